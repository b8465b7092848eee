{#- Flows must explain the change in presence: for every grid and delivered hour whose previous hour
    was delivered, devices now - devices the hour before = inflow - outflow (carriers give a device
    one user type per grid). The mart (a candidate) must show the exact total of every grid-hour (a
    grid-hour it lacks, or shows with another total, is a violation). Returns one row per violation. -#}

with

{{ import_ctes({
    'presence': ref('int_grid_presence_hourly'),
    'published': ref('grid_presence_hourly'),
}) }}

grid_hours as (

    select
        grid_code,
        hour_start,
        sum(devices_present) as devices_present,
        sum(devices_inflow) as devices_inflow,
        sum(devices_outflow) as devices_outflow,
        max(case when is_previous_hour_delivered then 1 else 0 end) as has_previous_hour
    from presence
    group by
        grid_code,
        hour_start

),

balance_check as (

    select
        grid_hours.grid_code,
        grid_hours.hour_start,
        'flows_do_not_balance' as violation
    from grid_hours
    left join grid_hours as previous_hour
        on
            grid_hours.grid_code = previous_hour.grid_code
            and previous_hour.hour_start = {{ dbt.dateadd('hour', -1, 'grid_hours.hour_start') }}
    where
        grid_hours.has_previous_hour = 1
        and grid_hours.devices_present - coalesce(previous_hour.devices_present, 0)
        <> grid_hours.devices_inflow - grid_hours.devices_outflow

),

exact_totals as (

    select
        grid_code,
        hour_start,
        devices_present as total_devices
    from grid_hours

),

published_totals as (

    select
        grid_code,
        hour_start,
        total_devices
    from published

),

missing_or_different as (

    select * from exact_totals
    except
    select * from published_totals

),

published_check as (

    select
        grid_code,
        hour_start,
        'published_total_differs' as violation
    from missing_or_different

),

final as (

    select * from balance_check
    union all
    select * from published_check

)

select * from final
