{#- Analyst-facing care coverage: per community and need group, residents in need and those served
    (a completed health-service contact in the last `service_window_days` days up to the as-of date),
    with the coverage rate. Counts under var('k_person') are withheld; the served count is also
    withheld when the residents not served are under k (it would single them out), and the rate
    whenever the served count is. -#}
{%- set k = var('k_person') -%}

with

coverage_counts as (

    select * from {{ ref('int_vulnerable_coverage_counts') }}

),

communities as (

    select * from {{ ref('int_communities') }}

),

flagged as (

    select
        *,
        {{ is_small_cell('people_in_need', k) }} as is_suppressed,
        (
            {{ is_small_cell('people_in_need', k) }}
            or {{ is_small_cell('people_served', k) }}
            or {{ is_small_cell('people_in_need - people_served', k) }}
        ) as is_served_suppressed
    from coverage_counts

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
        {{ dbt.cast(suppress_small_cells('flagged.people_in_need', k), dbt.type_bigint()) }}
            as people_in_need,
        {{ dbt.cast(
            'case when flagged.is_served_suppressed then null else flagged.people_served end',
            dbt.type_bigint()
        ) }} as people_served,
        case
            when not flagged.is_served_suppressed
                then {{ safe_ratio('flagged.people_served', 'flagged.people_in_need') }}
        end as coverage_rate,
        flagged.is_suppressed,
        flagged.is_served_suppressed
    from flagged
    left join communities
        on flagged.community_code = communities.community_code

)

select * from final
