{#- Care list for grid workers: present residents of the vulnerable groups in var('care_visit_groups')
    not served by a care visit: `is_served_by_care_visit` of int_vulnerable_coverage (no completed
    var('care_visit_services') contact in the var('service_window_days') days up to the as-of date).
    Care coverage (vulnerable_care_coverage) counts any completed contact instead
    (`is_served_by_any_contact`): a resident whose only contact in the window is a vaccination is
    covered there and still listed here. Person-level: row-level security limits each grid worker to
    their own communities (community_rls post-hook, dbt_project.yml). -#}
{%- set window_days = var('service_window_days') | int -%}
{%- set groups = var('care_visit_groups') -%}
{#- The care groups of a resident are listed in the var's order. -#}
{%- set in_group_order -%}
order by case need_group {% for group in groups %}when '{{ group }}' then {{ loop.index }} {% endfor %}end
{%- endset -%}
-- depends_on: {{ ref('grid_worker_scope') }}

with

{{ import_ctes({
    'coverage': ref('int_vulnerable_coverage'),
    'latest_contacts': ref('int_latest_service_contact'),
    'residents': ref('stg_population_registry'),
}) }}

not_visited as (

    {#- The register's groups among care_visit_groups (not the assistance programmes). #}
    select
        resident_pid,
        community_code,
        as_of_date,
        {{ dbt.listagg('need_group', "'; '", in_group_order) }} as vulnerable_groups
    from coverage
    where
        need_source = 'register'
        and need_group in (
            {%- for group in groups %}
            '{{ group }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
        and not is_served_by_care_visit
    group by
        resident_pid,
        community_code,
        as_of_date

),

due as (

    select
        not_visited.resident_pid,
        not_visited.community_code,
        not_visited.vulnerable_groups,
        not_visited.as_of_date,
        residents.grid_code,
        residents.name_display,
        residents.age_band,
        latest_contacts.last_care_visit_date,
        latest_contacts.last_care_visit_service_type,
        case
            when latest_contacts.last_care_visit_date is not null
                then {{ dbt.dateadd('day', window_days, 'latest_contacts.last_care_visit_date') }}
            else coalesce(residents.move_in_date, not_visited.as_of_date)
        end as due_date
    from not_visited
    inner join residents
        on not_visited.resident_pid = residents.resident_pid
    left join latest_contacts
        on not_visited.resident_pid = latest_contacts.resident_pid

),

final as (

    select
        community_code,
        grid_code,
        resident_pid,
        name_display,
        age_band,
        vulnerable_groups,
        last_care_visit_date as last_contact_date,
        last_care_visit_service_type as last_contact_service,
        {#- dateadd gives a timestamp on DuckDB and datediff a bigint: cast to the contract's types. #}
        cast(due_date as date) as due_date,
        {{ dbt.cast('greatest(' ~ dbt.datediff('due_date', 'as_of_date', 'day') ~ ', 0)', dbt.type_int()) }}
            as days_overdue,
        as_of_date
    from due

)

select * from final
