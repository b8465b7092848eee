{#- Ten-year age band used by every analyst-facing output (0-14, 15-24, ..., 75-84, 85+).
    A null or negative age (birth date after the reference date) is 'unknown'. -#}
{% macro age_band(age_expr) -%}
    case
        when {{ age_expr }} is null or {{ age_expr }} < 0 then 'unknown'
        when {{ age_expr }} < 15 then '0-14'
        when {{ age_expr }} < 25 then '15-24'
        when {{ age_expr }} < 35 then '25-34'
        when {{ age_expr }} < 45 then '35-44'
        when {{ age_expr }} < 55 then '45-54'
        when {{ age_expr }} < 65 then '55-64'
        when {{ age_expr }} < 75 then '65-74'
        when {{ age_expr }} < 85 then '75-84'
        else '85+'
    end
{%- endmacro %}

