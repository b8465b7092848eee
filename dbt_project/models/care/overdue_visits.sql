{#- Care list for grid workers: present residents of the vulnerable groups in var('care_visit_groups')
    with no completed home visit or check-up (var('care_visit_services')) in the var('service_window_days')
    days up to the as-of date (the same window as vulnerable_care_coverage). Person-level: row-level
    security limits each grid worker to their own communities (community_rls post-hook, dbt_project.yml). -#}
{%- set window_days = var('service_window_days') | int -%}
{%- set groups = var('care_visit_groups') -%}
{%- set services = var('care_visit_services') -%}
-- depends_on: {{ ref('grid_worker_scope') }}

with

residents as (

    select * from {{ ref('stg_population_registry') }}

),

contacts as (

    select * from {{ ref('stg_health_services') }}

),

as_of as (

    select {{ as_of_date() }} as as_of_date

),

vulnerable as (

    select
        residents.resident_pid,
        residents.name_display,
        residents.community_code,
        residents.grid_code,
        residents.age_band,
        residents.move_in_date,
        as_of.as_of_date,
        concat_ws(
            '; '
            {%- for group in groups %},
            case when residents.is_{{ group }} then '{{ group }}' end
            {%- endfor %}
        ) as vulnerable_groups
    from residents
    cross join as_of
    where
        residents.is_present
        and (
            {%- for group in groups %}
            {{ 'or ' if not loop.first }}residents.is_{{ group }}
            {%- endfor %}
        )

),

completed_contacts as (

    select
        vulnerable.resident_pid,
        contacts.service_date,
        contacts.service_type,
        row_number() over (
            partition by vulnerable.resident_pid
            order by contacts.service_date desc, contacts.service_type asc, contacts.service_id asc
        ) as recency_rank
    from vulnerable
    inner join contacts
        on vulnerable.resident_pid = contacts.resident_pid
    where
        contacts.is_completed
        and contacts.service_type in (
            {%- for service in services %}
            '{{ service }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
        and contacts.service_date <= vulnerable.as_of_date

),

last_contacts as (

    select
        resident_pid,
        service_date as last_contact_date,
        service_type as last_contact_service
    from completed_contacts
    where recency_rank = 1

),

due as (

    select
        vulnerable.*,
        last_contacts.last_contact_date,
        last_contacts.last_contact_service,
        case
            when last_contacts.last_contact_date is not null
                then {{ dbt.dateadd('day', window_days, 'last_contacts.last_contact_date') }}
            else coalesce(vulnerable.move_in_date, vulnerable.as_of_date)
        end as due_date
    from vulnerable
    left join last_contacts
        on vulnerable.resident_pid = last_contacts.resident_pid
    where
        last_contacts.last_contact_date is null
        or last_contacts.last_contact_date
        <= {{ dbt.dateadd('day', -window_days, 'vulnerable.as_of_date') }}

),

final as (

    select
        {{ dbt.cast('due.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('due.grid_code', dbt.type_string()) }} as grid_code,
        {{ dbt.cast('due.resident_pid', dbt.type_string()) }} as resident_pid,
        {{ dbt.cast('due.name_display', dbt.type_string()) }} as name_display,
        {{ dbt.cast('due.age_band', dbt.type_string()) }} as age_band,
        {{ dbt.cast('due.vulnerable_groups', dbt.type_string()) }} as vulnerable_groups,
        cast(due.last_contact_date as date) as last_contact_date,
        {{ dbt.cast('due.last_contact_service', dbt.type_string()) }} as last_contact_service,
        cast(due.due_date as date) as due_date,
        {{ dbt.cast(
            'greatest(' ~ dbt.datediff('due.due_date', 'due.as_of_date', 'day') ~ ', 0)',
            dbt.type_int()) }} as days_overdue,
        cast(due.as_of_date as date) as as_of_date
    from due

)

select * from final
