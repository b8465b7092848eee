{#- Analyst-facing care coverage: per community and need group, residents in need and those served
    (a completed health-service contact in the last `service_window_days` days up to the as-of date),
    with the coverage rate. Exact values (a candidate): the release step withholds small and
    complementary counts (community_dw.disclosure). -#}

with

coverage_counts as (

    select * from {{ ref('int_vulnerable_coverage_counts') }}

),

communities as (

    select * from {{ ref('int_communities') }}

),

final as (

    select
        {{ dbt.cast('communities.district_code', dbt.type_string()) }} as district_code,
        {{ dbt.cast('communities.district_name', dbt.type_string()) }} as district_name,
        {{ dbt.cast('communities.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('communities.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('flagged.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('communities.community_name', dbt.type_string()) }} as community_name,
        cast(flagged.as_of_date as date) as as_of_date,
        {{ dbt.cast('flagged.need_group', dbt.type_string()) }} as need_group,
        {{ dbt.cast('flagged.need_source', dbt.type_string()) }} as need_source,
        {{ var('service_window_days') | int }} as service_window_days,
        {{ dbt.cast('flagged.people_in_need', dbt.type_bigint()) }} as people_in_need,
        {{ dbt.cast('flagged.people_served', dbt.type_bigint()) }} as people_served,
        {{ safe_ratio('flagged.people_served', 'flagged.people_in_need') }} as coverage_rate,
        false as is_suppressed,
        false as is_served_suppressed
    from coverage_counts as flagged
    left join communities
        on flagged.community_code = communities.community_code

)

select * from final
