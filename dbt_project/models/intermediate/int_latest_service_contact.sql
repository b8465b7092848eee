{#- Per resident: the last health-service contact that took place (outcome completed) on or before the
    as-of date, the last such care visit (a service in var('care_visit_services'): what the grid
    workers' care list counts), and the last attempted contact of any outcome (a home visit may find
    nobody in). -#}
{%- set care_visit_services = var('care_visit_services') -%}

with

{{ import_ctes({'contacts': ref('stg_health_services')}) }}

as_of as (

    select {{ as_of_date() }} as as_of_date

),

known_contacts as (

    select
        contacts.service_id,
        contacts.resident_pid,
        contacts.service_type,
        contacts.service_date,
        contacts.community_code,
        contacts.outcome,
        contacts.is_completed,
        contacts.recorded_at,
        as_of.as_of_date,
        contacts.service_type in (
            {%- for service in care_visit_services %}
            '{{ service }}'{{ ',' if not loop.last }}
            {%- endfor %}
        ) as is_care_visit
    from contacts
    cross join as_of
    where contacts.service_date <= as_of.as_of_date

),

ranked as (

    select
        *,
        row_number() over (
            partition by resident_pid
            order by service_date desc, recorded_at desc, service_id desc
        ) as attempt_rank,
        row_number() over (
            partition by resident_pid
            order by
                case when is_completed then 0 else 1 end,
                service_date desc,
                recorded_at desc,
                service_id desc
        ) as completed_rank,
        row_number() over (
            partition by resident_pid
            order by
                case when is_completed and is_care_visit then 0 else 1 end,
                service_date desc,
                recorded_at desc,
                service_id desc
        ) as care_visit_rank,
        sum(case when is_completed then 1 else 0 end) over (partition by resident_pid) as completed_contacts
    from known_contacts

),

last_completed as (

    select
        *,
        {{ dbt.datediff('service_date', 'as_of_date', 'day') }}
            as days_since
    from ranked
    where completed_rank = 1 and is_completed

),

last_care_visit as (

    select * from ranked
    where care_visit_rank = 1 and is_completed and is_care_visit

),

last_attempt as (

    select * from ranked
    where attempt_rank = 1

),

final as (

    select
        last_attempt.resident_pid,
        last_completed.service_date as last_completed_service_date,
        last_completed.service_type as last_completed_service_type,
        last_completed.community_code as last_completed_community_code,
        {{ dbt.cast('last_completed.days_since', dbt.type_int()) }} as days_since_last_completed,
        {{ dbt.cast('last_attempt.completed_contacts', dbt.type_int()) }} as completed_contacts,
        last_care_visit.service_date as last_care_visit_date,
        last_care_visit.service_type as last_care_visit_service_type,
        last_attempt.service_date as last_contact_date,
        last_attempt.service_type as last_contact_service_type,
        last_attempt.outcome as last_contact_outcome,
        last_attempt.as_of_date
    from last_attempt
    left join last_completed
        on last_attempt.resident_pid = last_completed.resident_pid
    left join last_care_visit
        on last_attempt.resident_pid = last_care_visit.resident_pid

)

select * from final
