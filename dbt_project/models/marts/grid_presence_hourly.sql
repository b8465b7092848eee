{#- Analyst-facing hourly presence: per grid and hour, devices present by carrier user type (resident,
    worker, visitor) and their total, with exact counts (a candidate: the release step withholds small
    and complementary counts, community_dw.disclosure). Telecom lineage only. -#}
{%- set user_types = ['resident', 'worker', 'visitor'] -%}

with

{{ import_ctes({
    'presence': ref('int_grid_presence_hourly'),
    'divisions': ref('ref_divisions'),
}) }}

grid_hours as (

    select
        grid_code,
        hour_start,
        {%- for user_type in user_types %}
        sum(case when user_type = '{{ user_type }}' then devices_present else 0 end)
            as {{ user_type }}_devices,
        {%- endfor %}
        sum(devices_present) as total_devices
    from presence
    group by
        grid_code,
        hour_start

),

final as (

    select
        {{ grid_hour_columns('grid_hours') }},
        {%- for user_type in user_types %}
        {{ dbt.cast('grid_hours.' ~ user_type ~ '_devices', dbt.type_bigint()) }} as {{ user_type }}_devices,
        {%- endfor %}
        {{ dbt.cast('grid_hours.total_devices', dbt.type_bigint()) }} as total_devices,
        false as is_suppressed,
        false as has_suppressed_counts
    from grid_hours
    left join divisions
        on grid_hours.grid_code = divisions.grid_code

)

select * from final
