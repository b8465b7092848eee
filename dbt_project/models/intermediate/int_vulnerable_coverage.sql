{#- One row per resident in need and need group, with the warehouse's two definitions of "served" in
    the `service_window_days` days up to the as-of date, side by side so that neither is re-derived:
    by any completed health-service contact (what care coverage counts), and by a completed care visit
    (var('care_visit_services'): what takes a resident off the grid workers' care list). The
    people-in-need population of the analyst release, and the rows int_vulnerable_coverage_counts
    counts. -#}
{%- set window_days = var('service_window_days') | int -%}
{%- set window_start = dbt.dateadd('day', -window_days, 'needs.as_of_date') -%}

with

{{ import_ctes({
    'needs': ref('int_vulnerable_needs'),
    'latest_contacts': ref('int_latest_service_contact'),
}) }}

final as (

    select distinct
        needs.community_code,
        needs.need_group,
        needs.need_source,
        cast(needs.as_of_date as date) as as_of_date,
        needs.resident_pid,
        coalesce(
            latest_contacts.last_completed_service_date > {{ window_start }}, false
        ) as is_served_by_any_contact,
        coalesce(
            latest_contacts.last_care_visit_date > {{ window_start }}, false
        ) as is_served_by_care_visit
    from needs
    left join latest_contacts
        on needs.resident_pid = latest_contacts.resident_pid

)

select * from final
