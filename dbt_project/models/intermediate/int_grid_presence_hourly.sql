{#- Devices present per grid, hour and carrier user type, with the flows between hours: inflow counts
    devices present this hour that were not in the grid the hour before, outflow devices that were in
    the grid the hour before (with their user type then) and are not this hour. Flows are null when the
    previous hour has not been delivered. A device is present in the hours its stays start in.

    Incremental: each run recomputes only the hours from `telecom_lookback_hours` (default 3) before
    the latest hour already built, so new hourly partitions and late data within the lookback are
    counted; whole hours are recomputed (distinct counts do not add up) and replace their rows
    (delete+insert on grid, hour and user type). Aggregates stay after raw stays are purged. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['grid_code', 'hour_start', 'user_type'],
    on_schema_change='fail'
) }}
{%- set lookback_hours = var('telecom_lookback_hours') | int -%}
{#- The first hour to rebuild, as a constant so that the filter on the stays reaches the raw scan. -#}
{%- set first_hour = "cast('1900-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")" -%}
{%- if is_incremental() and execute -%}
    {%- set latest = run_query('select max(hour_start) from ' ~ this).columns[0].values()[0] -%}
    {%- if latest is not none -%}
        {%- set first_hour = dbt.dateadd(
            'hour', -lookback_hours, "cast('" ~ latest ~ "' as " ~ dbt.type_timestamp() ~ ")"
        ) -%}
    {%- endif -%}
{%- endif %}

with

stays as (

    select * from {{ ref('stg_telecom_stays') }}
    {#- The same stays twice over (the window starts on the hour): the filter on stay_start reaches the
        raw scan, which then skips earlier days' row groups. #}
    where
        stay_hour >= {{ dbt.dateadd('hour', -1, first_hour) }}
        and stay_start >= {{ dbt.dateadd('hour', -1, first_hour) }}

),

window_start as (

    select {{ first_hour }} as first_hour

),

presence as (

    select distinct
        grid_code,
        stay_hour as hour_start,
        device_pid,
        user_type
    from stays
    where is_valid_duration

),

device_hours as (

    select distinct
        grid_code,
        hour_start,
        device_pid
    from presence

),

delivered_hours as (

    select distinct hour_start
    from presence

),

hours_to_build as (

    select
        delivered_hours.hour_start,
        previous_hour.hour_start is not null as is_previous_hour_delivered
    from delivered_hours
    cross join window_start
    left join delivered_hours as previous_hour
        on previous_hour.hour_start = {{ dbt.dateadd('hour', -1, 'delivered_hours.hour_start') }}
    where delivered_hours.hour_start >= window_start.first_hour

),

present_now as (

    select
        presence.grid_code,
        presence.hour_start,
        presence.user_type,
        count(distinct presence.device_pid) as devices_present,
        count(
            distinct case when previous_presence.device_pid is null then presence.device_pid end
        ) as devices_arrived
    from presence
    inner join hours_to_build
        on presence.hour_start = hours_to_build.hour_start
    left join device_hours as previous_presence
        on
            presence.grid_code = previous_presence.grid_code
            and presence.device_pid = previous_presence.device_pid
            and previous_presence.hour_start = {{ dbt.dateadd('hour', -1, 'presence.hour_start') }}
    group by
        presence.grid_code,
        presence.hour_start,
        presence.user_type

),

gone_now as (

    select
        presence.grid_code,
        hours_to_build.hour_start,
        presence.user_type,
        count(distinct presence.device_pid) as devices_left
    from presence
    inner join hours_to_build
        on presence.hour_start = {{ dbt.dateadd('hour', -1, 'hours_to_build.hour_start') }}
    left join device_hours as current_presence
        on
            presence.grid_code = current_presence.grid_code
            and presence.device_pid = current_presence.device_pid
            and hours_to_build.hour_start = current_presence.hour_start
    where current_presence.device_pid is null
    group by
        presence.grid_code,
        hours_to_build.hour_start,
        presence.user_type

),

combined as (

    select
        coalesce(present_now.grid_code, gone_now.grid_code) as grid_code,
        coalesce(present_now.hour_start, gone_now.hour_start) as hour_start,
        coalesce(present_now.user_type, gone_now.user_type) as user_type,
        coalesce(present_now.devices_present, 0) as devices_present,
        coalesce(present_now.devices_arrived, 0) as devices_arrived,
        coalesce(gone_now.devices_left, 0) as devices_left
    from present_now
    full outer join gone_now
        on
            present_now.grid_code = gone_now.grid_code
            and present_now.hour_start = gone_now.hour_start
            and present_now.user_type = gone_now.user_type

),

final as (

    select
        combined.grid_code,
        substr(combined.grid_code, 1, 12) as community_code,
        cast(combined.hour_start as {{ dbt.type_timestamp() }}) as hour_start,
        {{ dbt.cast('combined.user_type', dbt.type_string()) }} as user_type,
        {{ dbt.cast('combined.devices_present', dbt.type_bigint()) }} as devices_present,
        {{ dbt.cast(
            'case when hours_to_build.is_previous_hour_delivered then combined.devices_arrived end',
            dbt.type_bigint()
        ) }} as devices_inflow,
        {{ dbt.cast(
            'case when hours_to_build.is_previous_hour_delivered then combined.devices_left end',
            dbt.type_bigint()
        ) }} as devices_outflow,
        hours_to_build.is_previous_hour_delivered,
        {{ dbt.cast("'" ~ invocation_id ~ "'", dbt.type_string()) }} as _invocation_id
    from combined
    inner join hours_to_build
        on combined.hour_start = hours_to_build.hour_start

)

select * from final
