{#- The earliest stay hour this build's incremental telecom models read: the lookback before the latest
    hour int_grid_presence_hourly holds (and the hour before it, for the flows), or the day before the
    latest night int_telecom_night_presence holds, whichever is earlier. Before either is built, and on
    --full-refresh, every stay (1900-01-01). Run while the tests of stg_telecom_stays run: before the
    incremental models are built, so the window is the one they are about to read. -#}
{% macro telecom_build_window() -%}
    {%- set starts = [] -%}
    {%- set grid = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='int_grid_presence_hourly'
    ) -%}
    {%- set nights = adapter.get_relation(
        database=target.database, schema='intermediate', identifier='int_telecom_night_presence'
    ) -%}
    {%- if execute and not flags.FULL_REFRESH and grid is not none and nights is not none -%}
        {%- set latest_hour = run_query('select max(hour_start) from ' ~ grid).columns[0].values()[0] -%}
        {%- set latest_night = run_query('select max(night_date) from ' ~ nights).columns[0].values()[0] -%}
        {%- if latest_hour is not none and latest_night is not none -%}
            {%- set lookback = modules.datetime.timedelta(hours=var('telecom_lookback_hours') | int + 1) -%}
            {%- set night = modules.datetime.datetime.combine(
                latest_night - modules.datetime.timedelta(days=1), modules.datetime.time()
            ) -%}
            {%- do starts.append([latest_hour - lookback, night] | min) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set first = starts[0] if starts else '1900-01-01 00:00:00' -%}
    cast('{{ first }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- dbt's get_where_subquery (the relation a test reads, filtered by its `where` config), with one
    placeholder: `__telecom_build_window__` becomes telecom_build_window(). The tests of the raw-level
    telecom view check the stays this build reads, not every stay of the last 30 days again (they were
    checked by the build that first read them). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__telecom_build_window__' in where -%}
        {%- set where = where | replace('__telecom_build_window__', telecom_build_window()) -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(dbt.get_where_subquery(relation)) -%}
{%- endmacro %}
