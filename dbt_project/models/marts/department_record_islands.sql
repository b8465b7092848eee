{#- The "data islands": per department (civil_affairs, health, appeals) and community of the record,
    department records whose resident pseudonym matches no resident in the latest register snapshot.
    Exact values (a candidate): the release withholds counts of records from fewer than k residents and
    their complements (community_dw.disclosure). -#}

with

{{ import_ctes({
    'department_records': ref('int_department_records'),
    'communities': ref('int_communities'),
}) }}

counted as (

    select
        department,
        community_code,
        count(*) as records,
        sum(case when in_register then 0 else 1 end) as unmatched_records,
        count(distinct case when not in_register then resident_pid end) as unmatched_residents
    from department_records
    group by
        department,
        community_code

),

final as (

    select
        flagged.department,
        {{ community_hierarchy_columns(
            'flagged.community_code',
            columns=['district_code', 'street_code', 'street_name', 'community_code', 'community_name']
        ) }},
        {{ dbt.cast('flagged.records', dbt.type_bigint()) }} as records,
        {{ dbt.cast('flagged.unmatched_records', dbt.type_bigint()) }} as unmatched_records,
        {{ dbt.cast('flagged.unmatched_residents', dbt.type_bigint()) }} as unmatched_residents,
        {{ safe_ratio('flagged.unmatched_records', 'flagged.records') }} as share_unmatched,
        false as is_suppressed
    from counted as flagged
    left join communities
        on flagged.community_code = communities.community_code

)

select * from final
