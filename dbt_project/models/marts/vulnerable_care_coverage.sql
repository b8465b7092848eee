{#- Analyst-facing care coverage: per community and need group, residents in need and those served
    (a completed health-service contact in the last `service_window_days` days up to the as-of date),
    with the coverage rate. Exact values (a candidate): the release step withholds small and
    complementary counts (community_dw.disclosure). -#}

with

{{ import_ctes({
    'coverage_counts': ref('int_vulnerable_coverage_counts'),
    'communities': ref('int_communities'),
}) }}

final as (

    select
        {{ community_hierarchy_columns('flagged.community_code') }},
        cast(flagged.as_of_date as date) as as_of_date,
        flagged.need_group,
        flagged.need_source,
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
