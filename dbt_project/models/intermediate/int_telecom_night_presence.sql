{#- Night-time resident devices per community and night: distinct devices the carrier classifies as
    `resident` in any of the community's grids between `night_start_hour` (default 2) and
    `night_end_hour` (default 5) on that date, with how many of those hours were delivered. An
    aggregate: the only telecom input of population_reconciliation.

    Incremental: each run recomputes the nights from the day before the latest night already built
    (late partitions included) and replaces them (delete+insert on community and night). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['community_code', 'night_date'],
    on_schema_change='fail'
) }}
{%- set night_start = var('night_start_hour') | int -%}
{%- set night_end = var('night_end_hour') | int -%}
{#- The first night to rebuild (none: every night); the stays are read by telecom_night_stays. -#}
{%- set first_night = none -%}
{%- if is_incremental() and execute -%}
    {%- set latest = run_query('select max(night_date) from ' ~ this).columns[0].values()[0] -%}
    {%- if latest is not none -%}
        {%- set first_night = latest - modules.datetime.timedelta(days=1) -%}
    {%- endif -%}
{%- endif %}

with

stays as (

    select * from {{ ref('stg_telecom_stays') }}
    {#- The night hours of the nights rebuilt, then every later stay: ranges on stay_start reach the
        raw scan, which then skips earlier days' row groups and the daytime between the nights. #}
    where {{ telecom_night_stays(first_night) }}

),

night_stays as (

    select
        community_code,
        stay_date as night_date,
        stay_hour,
        device_pid,
        user_type
    from stays
    where
        is_valid_duration
        and hour_of_day >= {{ night_start }}
        and hour_of_day < {{ night_end }}

),

delivered_night_hours as (

    select
        night_date,
        count(distinct stay_hour) as night_hours_delivered
    from night_stays
    group by night_date

),

resident_devices as (

    select
        community_code,
        night_date,
        count(distinct device_pid) as resident_devices
    from night_stays
    where user_type = 'resident'
    group by
        community_code,
        night_date

),

final as (

    select
        resident_devices.community_code,
        cast(resident_devices.night_date as date) as night_date,
        {{ dbt.cast('resident_devices.resident_devices', dbt.type_bigint()) }} as resident_devices,
        {{ dbt.cast('delivered_night_hours.night_hours_delivered', dbt.type_int()) }}
            as night_hours_delivered,
        delivered_night_hours.night_hours_delivered = {{ night_end - night_start }} as is_complete_night
    from resident_devices
    inner join delivered_night_hours
        on resident_devices.night_date = delivered_night_hours.night_date

)

select * from final
