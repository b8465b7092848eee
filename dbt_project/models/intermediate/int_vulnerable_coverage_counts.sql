{#- Exact (unsuppressed) coverage counts per community and need group: residents in need and those
    with a completed health-service contact in the `service_window_days` days up to the as-of date.
    Engineers only: small cells are still visible here. -#}
{%- set window_days = var('service_window_days') | int -%}

with

needs as (

    select * from {{ ref('int_vulnerable_needs') }}

),

latest_contacts as (

    select * from {{ ref('int_latest_service_contact') }}

),

needs_with_contact as (

    select
        needs.community_code,
        needs.need_group,
        needs.need_source,
        needs.as_of_date,
        needs.resident_pid,
        coalesce(
            latest_contacts.last_completed_service_date
            > {{ dbt.dateadd('day', -window_days, 'needs.as_of_date') }},
            false
        ) as is_served
    from needs
    left join latest_contacts
        on needs.resident_pid = latest_contacts.resident_pid

),

final as (

    select
        community_code,
        need_group,
        need_source,
        cast(as_of_date as date) as as_of_date,
        {{ dbt.cast('count(distinct resident_pid)', dbt.type_bigint()) }} as people_in_need,
        {{ dbt.cast(
            'count(distinct case when is_served then resident_pid end)', dbt.type_bigint()
        ) }} as people_served
    from needs_with_contact
    group by
        community_code,
        need_group,
        need_source,
        as_of_date

)

select * from final
