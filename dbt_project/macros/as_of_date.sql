{#- The date the warehouse is built as of, as a SQL expression (date): var('as_of_date') when set,
    else the snapshot date of the population register staging uses (its latest batch), else today.
    One definition, so coverage windows, active assistance and ages all agree on "today". -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date') -%}
    {%- if as_of is not none -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        coalesce(
            (select max(snapshot_date) from {{ ref('stg_population_registry') }}),
            cast({{ dbt.current_timestamp() }} as date)
        )
    {%- endif -%}
{%- endmacro %}
