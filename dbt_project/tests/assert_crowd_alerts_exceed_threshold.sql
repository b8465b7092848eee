{#- Every crowd alert must clear the bar it claims: at least `crowd_alert_min_devices` present (checked
    on the exact count) and, where the usual level is published, more than the factor times the usual
    level. The published usual level is the exact one rounded to the nearest multiple of k for devices,
    so the exact level is at least the published one minus k/2 (the published ratio, over the rounded
    level, may be under the factor). Returns one row per violation. -#}
{%- set min_devices = var('crowd_alert_min_devices') | int -%}
{%- set k = disclosure_k('device') -%}

with

alerts as (

    select * from {{ ref('crowd_alerts') }}

),

presence as (

    select * from {{ ref('int_grid_presence_hourly') }}

),

exact_totals as (

    select
        grid_code,
        hour_start,
        'all' as user_type,
        sum(devices_present) as devices_present
    from presence
    group by
        grid_code,
        hour_start

    union all

    select
        grid_code,
        hour_start,
        user_type,
        devices_present
    from presence

),

final as (

    select
        alerts.grid_code,
        alerts.hour_start,
        alerts.user_type,
        case
            when exact_totals.grid_code is null then 'no_presence_behind_alert'
            when exact_totals.devices_present < {{ min_devices }} then 'below_minimum'
            when alerts.usual_devices < {{ k }} then 'usual_level_under_k'
            else 'below_factor'
        end as violation
    from alerts
    left join exact_totals
        on
            alerts.grid_code = exact_totals.grid_code
            and alerts.hour_start = exact_totals.hour_start
            and alerts.user_type = exact_totals.user_type
    where
        exact_totals.grid_code is null
        or exact_totals.devices_present < {{ min_devices }}
        or alerts.usual_devices < {{ k }}
        or alerts.devices_present <= alerts.alert_factor * (alerts.usual_devices - {{ k }} / 2.0)

)

select * from final
