{#- A timestamp literal of a Python datetime, on either engine. -#}
{% macro telecom_timestamp(value) -%}
    cast('{{ value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The stays int_telecom_night_presence reads to rebuild the nights from FIRST_NIGHT (a date; none
    for every night): the night hours [night_start_hour, night_end_hour) of FIRST_NIGHT and of the
    night after it, then every stay from the second day after (nights not built yet; the model keeps
    their night hours itself). A predicate on stay_start made of ranges, so that it reaches the raw
    scan: the daytime hours of the nights rebuilt again are not read. The same stays as all stays from
    FIRST_NIGHT, as far as the night model is concerned (it keeps only night hours). -#}
{% macro telecom_night_stays(first_night) -%}
    {%- if first_night is none -%}
        stay_start >= {{ telecom_timestamp(modules.datetime.datetime(1900, 1, 1)) }}
    {%- else -%}
        {%- set midnight = modules.datetime.datetime.combine(first_night, modules.datetime.time()) -%}
        {%- set hour = modules.datetime.timedelta(hours=1) -%}
        {%- set day = modules.datetime.timedelta(days=1) -%}
        {%- set night_start = var('night_start_hour') | int -%}
        {%- set night_end = var('night_end_hour') | int -%}
        (
        {%- for n in range(2) %}
            (
                stay_start >= {{ telecom_timestamp(midnight + day * n + hour * night_start) }}
                and stay_start < {{ telecom_timestamp(midnight + day * n + hour * night_end) }}
            )
            or
        {%- endfor %}
            stay_start >= {{ telecom_timestamp(midnight + day * 2) }}
        )
    {%- endif -%}
{%- endmacro %}

{#- The stays this build's incremental telecom models read, as a predicate on stay_start: from the
    lookback before the latest hour int_grid_presence_hourly holds (and the hour before it, for the
    flows), and those int_telecom_night_presence reads to rebuild the nights from the day before the
    latest night it holds (telecom_night_stays). Before either is built, and on --full-refresh, every
    stay. Run while the tests of stg_telecom_stays run: before the incremental models are built, so
    these are the stays they are about to read. -#}
{% macro telecom_build_stays() -%}
    {%- set predicate = [] -%}
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
            {%- do predicate.append(
                'stay_start >= ' ~ telecom_timestamp(latest_hour - lookback) ~ ' or '
                ~ telecom_night_stays(latest_night - modules.datetime.timedelta(days=1))
            ) -%}
        {%- endif -%}
    {%- endif -%}
    ({{ predicate[0] if predicate else telecom_night_stays(none) }})
{%- endmacro %}

{#- dbt's get_where_subquery (the relation a test reads, filtered by its `where` config), with one
    placeholder: `__telecom_build_stays__` becomes telecom_build_stays(). The tests of the raw-level
    telecom view check the stays this build reads, not every stay of the last 30 days again (they were
    checked by the build that first read them). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__telecom_build_stays__' in where -%}
        {%- set where = where | replace('__telecom_build_stays__', telecom_build_stays()) -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(dbt.get_where_subquery(relation)) -%}
{%- endmacro %}
