{#- Analyst-facing hourly presence: per grid and hour, devices present by carrier user type (resident,
    worker, visitor), their total, and the devices that came in and went out since the previous hour.
    Device counts under var('k_device') are withheld. Telecom lineage only. -#}
{%- set k = var('k_device') -%}
{%- set user_types = ['resident', 'worker', 'visitor'] -%}
{%- set count_columns = ['resident_devices', 'worker_devices', 'visitor_devices', 'total_devices',
    'inflow_devices', 'outflow_devices'] -%}

with

presence as (

    select * from {{ ref('int_grid_presence_hourly') }}

),

divisions as (

    select * from {{ ref('ref_divisions') }}

),

grid_hours as (

    select
        grid_code,
        hour_start,
        {%- for user_type in user_types %}
        sum(case when user_type = '{{ user_type }}' then devices_present else 0 end)
            as {{ user_type }}_devices,
        {%- endfor %}
        sum(devices_present) as total_devices,
        sum(devices_inflow) as inflow_devices,
        sum(devices_outflow) as outflow_devices,
        {{ dbt.bool_or('is_previous_hour_delivered') }} as is_previous_hour_delivered
    from presence
    group by
        grid_code,
        hour_start

),

suppressed as (

    select
        grid_code,
        hour_start,
        {%- for count_column in count_columns %}
        {{ suppress_small_cells(count_column, k) }} as {{ count_column }},
        {%- endfor %}
        is_previous_hour_delivered,
        {{ is_small_cell('total_devices', k) }} as is_suppressed,
        (
            {%- for count_column in count_columns %}
            {{ is_small_cell(count_column, k) }}{{ ' or' if not loop.last }}
            {%- endfor %}
        ) as has_suppressed_counts
    from grid_hours

),

final as (

    select
        {{ dbt.cast('divisions.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('divisions.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('substr(suppressed.grid_code, 1, 12)', dbt.type_string()) }} as community_code,
        {{ dbt.cast('divisions.community_name', dbt.type_string()) }} as community_name,
        {{ dbt.cast('suppressed.grid_code', dbt.type_string()) }} as grid_code,
        {{ dbt.cast('divisions.grid_name', dbt.type_string()) }} as grid_name,
        cast(suppressed.hour_start as {{ dbt.type_timestamp() }}) as hour_start,
        cast(suppressed.hour_start as date) as presence_date,
        {{ dbt.cast('extract(hour from suppressed.hour_start)', dbt.type_int()) }} as hour_of_day,
        {%- for count_column in count_columns %}
        {{ dbt.cast('suppressed.' ~ count_column, dbt.type_bigint()) }} as {{ count_column }},
        {%- endfor %}
        suppressed.is_previous_hour_delivered,
        suppressed.is_suppressed,
        suppressed.has_suppressed_counts
    from suppressed
    left join divisions
        on suppressed.grid_code = divisions.grid_code

)

select * from final
