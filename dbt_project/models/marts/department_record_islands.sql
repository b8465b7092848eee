{#- The "data islands": per department (civil_affairs, health, appeals) and community of the record,
    department records whose resident pseudonym matches no resident in the latest register snapshot.
    Residents under var('k_person') are withheld, with the record count and share that would reveal
    them. -#}
{%- set k = var('k_person') -%}

with

department_records as (

    select * from {{ ref('int_department_records') }}

),

communities as (

    select * from {{ ref('int_communities') }}

),

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

flagged as (

    select
        *,
        {{ is_small_cell('unmatched_residents', k) }} as is_suppressed
    from counted

),

final as (

    select
        {{ dbt.cast('flagged.department', dbt.type_string()) }} as department,
        {{ dbt.cast('communities.district_code', dbt.type_string()) }} as district_code,
        {{ dbt.cast('communities.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('communities.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('flagged.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('communities.community_name', dbt.type_string()) }} as community_name,
        {{ dbt.cast('flagged.records', dbt.type_bigint()) }} as records,
        {{ dbt.cast(
            'case when flagged.is_suppressed then null else flagged.unmatched_records end', dbt.type_bigint()
        ) }} as unmatched_records,
        {{ dbt.cast(suppress_small_cells('flagged.unmatched_residents', k), dbt.type_bigint()) }}
            as unmatched_residents,
        case
            when not flagged.is_suppressed
                then {{ safe_ratio('flagged.unmatched_records', 'flagged.records') }}
        end as share_unmatched,
        flagged.is_suppressed
    from flagged
    left join communities
        on flagged.community_code = communities.community_code

)

select * from final
