{#- One row per resident in need and need group, with whether a completed health-service contact in
    the `service_window_days` days up to the as-of date reached them: the people-in-need population of
    the analyst release, and the rows int_vulnerable_coverage_counts counts. -#}
{%- set window_days = var('service_window_days') | int -%}

with

needs as (

    select * from {{ ref('int_vulnerable_needs') }}

),

latest_contacts as (

    select * from {{ ref('int_latest_service_contact') }}

),

final as (

    select distinct
        needs.community_code,
        needs.need_group,
        needs.need_source,
        cast(needs.as_of_date as date) as as_of_date,
        needs.resident_pid,
        coalesce(
            latest_contacts.last_completed_service_date
            > {{ dbt.dateadd('day', -window_days, 'needs.as_of_date') }},
            false
        ) as is_served
    from needs
    left join latest_contacts
        on needs.resident_pid = latest_contacts.resident_pid

)

select * from final
