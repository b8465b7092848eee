{#- Portable rounding of fractional results, returned as double precision. PostgreSQL rounds only
    numerics (numeric / double is double there) and DuckDB divides decimals into doubles, so both
    operands go through numeric(28,6) first. -#}
{% macro safe_ratio(numerator, denominator, digits=4) -%}
    {{ dbt.cast(
        'round(cast(' ~ numerator ~ ' as ' ~ dbt.type_numeric() ~ ')'
        ~ ' / nullif(cast(' ~ denominator ~ ' as ' ~ dbt.type_numeric() ~ '), 0), ' ~ digits ~ ')',
        type_double()
    ) }}
{%- endmacro %}

{#- A float expression rounded to `digits` decimals, as float. -#}
{% macro round_float(expr, digits=2) -%}
    {{ dbt.cast('round(cast(' ~ expr ~ ' as ' ~ dbt.type_numeric() ~ '), ' ~ digits ~ ')', type_double()) }}
{%- endmacro %}
