{#- The columns that name a grid-hour, which the grid-level marts' rows start with: street code and
    name, community code and name, grid code and name (from ref_divisions, `divisions`, left-joined on
    the grid code), then the hour's start, date and hour of day, all from the rows' `grid_code` and
    `hour_start`. The community code is the grid code's first 12 characters (the codes nest), so a grid
    missing from the seed keeps its community. -#}
{% macro grid_hour_columns(rows, date_column='presence_date', divisions='divisions') -%}
    {{ community_hierarchy_columns(
        'substr(' ~ rows ~ '.grid_code, 1, 12)',
        divisions=divisions,
        columns=['street_code', 'street_name', 'community_code', 'community_name']
    ) }},
        {{ rows }}.grid_code,
        {{ divisions }}.grid_name,
        cast({{ rows }}.hour_start as {{ dbt.type_timestamp() }}) as hour_start,
        cast({{ rows }}.hour_start as date) as {{ date_column }},
        {{ dbt.cast('extract(hour from ' ~ rows ~ '.hour_start)', dbt.type_int()) }} as hour_of_day
{%- endmacro %}
