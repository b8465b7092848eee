{#- Exact (unsuppressed) coverage counts per community and need group: residents in need and those
    with a completed health-service contact in the `service_window_days` days up to the as-of date.
    Engineers only: small cells are still visible here. -#}
with

{{ import_ctes({'coverage': ref('int_vulnerable_coverage')}) }}

final as (

    select
        community_code,
        need_group,
        need_source,
        as_of_date,
        {{ dbt.cast('count(distinct resident_pid)', dbt.type_bigint()) }} as people_in_need,
        {{ dbt.cast(
            'count(distinct case when is_served_by_any_contact then resident_pid end)', dbt.type_bigint()
        ) }} as people_served
    from coverage
    group by
        community_code,
        need_group,
        need_source,
        as_of_date

)

select * from final
