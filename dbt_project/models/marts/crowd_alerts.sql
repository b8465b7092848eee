{#- Emergency watch: grid-hours where devices present exceed `crowd_alert_factor` (default 3) times
    the grid's usual level, for all devices (user_type 'all') or for one carrier user type (a crowd of
    visitors shows even where many residents are at home), with at least `crowd_alert_min_devices`
    present. The usual level is the median, over the delivered hours at the same hour of day on the
    `crowd_baseline_days` days before (absent = 0 devices); with no earlier day delivered, it is the
    grid's average over the delivered hours of the same day. Telecom lineage only. -#}
{%- set k = disclosure_k('device') -%}
{%- set factor = var('crowd_alert_factor') -%}
{%- set min_devices = var('crowd_alert_min_devices') | int -%}
{%- set baseline_days = var('crowd_baseline_days') | int -%}

with

{{ import_ctes({
    'presence': ref('int_grid_presence_hourly'),
    'divisions': ref('ref_divisions'),
}) }}

measures as (

    select
        grid_code,
        hour_start,
        user_type,
        devices_present
    from presence

    union all

    select
        grid_code,
        hour_start,
        'all' as user_type,
        sum(devices_present) as devices_present
    from presence
    group by
        grid_code,
        hour_start

),

delivered_hours as (

    select distinct
        hour_start,
        cast(hour_start as date) as presence_date,
        extract(hour from hour_start) as hour_of_day
    from presence

),

candidates as (

    select
        measures.grid_code,
        measures.hour_start,
        measures.user_type,
        measures.devices_present,
        delivered_hours.presence_date,
        delivered_hours.hour_of_day
    from measures
    inner join delivered_hours
        on measures.hour_start = delivered_hours.hour_start
    where measures.devices_present >= {{ min_devices }}

),

same_hour_baseline as (

    select
        candidates.grid_code,
        candidates.hour_start,
        candidates.user_type,
        percentile_cont(0.5) within group (order by coalesce(history.devices_present, 0)) as usual_devices,
        count(*) as baseline_hours
    from candidates
    inner join delivered_hours as earlier
        on
            candidates.hour_of_day = earlier.hour_of_day
            and candidates.presence_date > earlier.presence_date
            and {{ dbt.dateadd('day', -baseline_days, 'candidates.presence_date') }} <= earlier.presence_date
    left join measures as history
        on
            candidates.grid_code = history.grid_code
            and candidates.user_type = history.user_type
            and earlier.hour_start = history.hour_start
    group by
        candidates.grid_code,
        candidates.hour_start,
        candidates.user_type

),

same_day_baseline as (

    select
        candidates.grid_code,
        candidates.hour_start,
        candidates.user_type,
        avg(coalesce(history.devices_present, 0)) as usual_devices,
        count(*) as baseline_hours
    from candidates
    inner join delivered_hours as same_day
        on candidates.presence_date = same_day.presence_date
    left join measures as history
        on
            candidates.grid_code = history.grid_code
            and candidates.user_type = history.user_type
            and same_day.hour_start = history.hour_start
    group by
        candidates.grid_code,
        candidates.hour_start,
        candidates.user_type

),

compared as (

    select
        candidates.*,
        coalesce(same_hour_baseline.usual_devices, same_day_baseline.usual_devices) as usual_devices,
        coalesce(same_hour_baseline.baseline_hours, same_day_baseline.baseline_hours) as baseline_hours,
        case
            when same_hour_baseline.grid_code is not null then 'same_hour_earlier_days'
            else 'same_day_average'
        end as baseline_method
    from candidates
    left join same_hour_baseline
        on
            candidates.grid_code = same_hour_baseline.grid_code
            and candidates.hour_start = same_hour_baseline.hour_start
            and candidates.user_type = same_hour_baseline.user_type
    left join same_day_baseline
        on
            candidates.grid_code = same_day_baseline.grid_code
            and candidates.hour_start = same_day_baseline.hour_start
            and candidates.user_type = same_day_baseline.user_type

),

alerts as (

    select
        *,
        {{ is_small_cell('usual_devices', k) }} as is_baseline_suppressed,
        {{ dbt.cast('floor(usual_devices / ' ~ k ~ ' + 0.5) * ' ~ k, type_double()) }}
            as published_usual_devices
    from compared
    where devices_present > {{ factor }} * usual_devices

),

final as (

    select
        {{ grid_hour_columns('alerts', date_column='alert_date') }},
        alerts.user_type,
        {{ dbt.cast('alerts.devices_present', dbt.type_bigint()) }} as devices_present,
        case
            when not alerts.is_baseline_suppressed then alerts.published_usual_devices
        end as usual_devices,
        case
            when not alerts.is_baseline_suppressed
                then {{ safe_ratio('alerts.devices_present', 'alerts.published_usual_devices', 2) }}
        end as excess_ratio,
        alerts.baseline_method,
        {{ dbt.cast('alerts.baseline_hours', dbt.type_int()) }} as baseline_hours,
        {{ dbt.cast(factor, type_double()) }} as alert_factor,
        false as is_suppressed,
        alerts.is_baseline_suppressed
    from alerts
    left join divisions
        on alerts.grid_code = divisions.grid_code

)

select * from final
