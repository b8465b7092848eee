{#- Every crowd alert must clear the bar it claims: at least `crowd_alert_min_devices` present (checked
    on the exact count) and, where the usual level is published, more than the factor times the usual
    level. The published usual level is the exact one rounded to the nearest multiple of k for devices,
    so the exact level is at least the published one minus k/2 (the published ratio, over the rounded
    level, may be under the factor). Its presence must be the hourly mart's for the same grid-hour and
    user type. Returns one row per violation. -#}
{%- set min_devices = var('crowd_alert_min_devices') | int -%}
{%- set k = disclosure_k('device') -%}
{%- set user_types = ['resident', 'worker', 'visitor'] -%}

with

{{ import_ctes({
    'alerts': ref('crowd_alerts'),
    'hourly': ref('grid_presence_hourly'),
}) }}

exact_presence as (

    {#- The exact presence behind each alert, read from the hourly mart (a candidate with exact counts,
        which pivots int_grid_presence_hourly by user type) rather than re-derived the way crowd_alerts
        derives it: the two marts must agree on every grid-hour. #}
    select
        grid_code,
        hour_start,
        'all' as user_type,
        total_devices as devices_present
    from hourly
    {%- for user_type in user_types %}

    union all

    select
        grid_code,
        hour_start,
        '{{ user_type }}' as user_type,
        {{ user_type }}_devices as devices_present
    from hourly
    {%- endfor %}

),

final as (

    select
        alerts.grid_code,
        alerts.hour_start,
        alerts.user_type,
        case
            when exact_presence.grid_code is null then 'no_presence_behind_alert'
            when exact_presence.devices_present <> alerts.devices_present then 'presence_differs_from_hourly'
            when exact_presence.devices_present < {{ min_devices }} then 'below_minimum'
            when alerts.usual_devices < {{ k }} then 'usual_level_under_k'
            else 'below_factor'
        end as violation
    from alerts
    left join exact_presence
        on
            alerts.grid_code = exact_presence.grid_code
            and alerts.hour_start = exact_presence.hour_start
            and alerts.user_type = exact_presence.user_type
    where
        exact_presence.grid_code is null
        or exact_presence.devices_present <> alerts.devices_present
        or exact_presence.devices_present < {{ min_devices }}
        or alerts.usual_devices < {{ k }}
        or alerts.devices_present <= alerts.alert_factor * (alerts.usual_devices - {{ k }} / 2.0)

)

select * from final
