{#- Who needs what: one row per present resident and need group, from the register's special-group
    flags (elderly_alone, disabled, low_income, entitled, left_behind_child) and from the assistance
    programmes the resident is actively enrolled in on the as-of date. Residents come from the
    register (present only), so each person is counted in their community of residence. -#}
{%- set flags = ['elderly_alone', 'disabled', 'low_income', 'entitled', 'left_behind_child'] -%}

with

{{ import_ctes({
    'register': ref('stg_population_registry'),
    'cases': ref('stg_civil_affairs_assistance'),
}) }}

as_of as (

    select {{ as_of_date() }} as as_of_date

),

residents as (

    select
        resident_pid,
        community_code,
        grid_code,
        is_elderly_alone,
        is_disabled,
        is_low_income,
        is_entitled,
        is_left_behind_child
    from register
    where is_present

),

flag_needs as (

    {%- for flag in flags %}

    select
        resident_pid,
        community_code,
        grid_code,
        '{{ flag }}' as need_group,
        'register' as need_source
    from residents
    where is_{{ flag }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

active_cases as (

    select distinct
        cases.resident_pid,
        cases.programme
    from cases
    cross join as_of
    where
        cases.is_active
        and cases.start_date <= as_of.as_of_date
        and (cases.end_date is null or cases.end_date >= as_of.as_of_date)

),

programme_needs as (

    select
        residents.resident_pid,
        residents.community_code,
        residents.grid_code,
        active_cases.programme as need_group,
        'civil_affairs' as need_source
    from active_cases
    inner join residents
        on active_cases.resident_pid = residents.resident_pid

),

needs as (

    select * from flag_needs
    union all
    select * from programme_needs

),

final as (

    select
        needs.resident_pid,
        needs.community_code,
        needs.grid_code,
        {{ dbt.cast('needs.need_group', dbt.type_string()) }} as need_group,
        {{ dbt.cast('needs.need_source', dbt.type_string()) }} as need_source,
        as_of.as_of_date
    from needs
    cross join as_of

)

select * from final
