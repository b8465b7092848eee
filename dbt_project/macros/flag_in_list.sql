{#- True when `flag` is one of the tokens of a delimited list column (e.g. 'disabled;low_income').
    Exact token match, blanks ignored, false (never null) for a null or empty list. -#}
{% macro flag_in_list(list_expr, flag, delimiter=';') -%}
    {%- set cleaned = dbt.replace('coalesce(' ~ list_expr ~ ", '')", "' '", "''") -%}
    ({{ dbt.concat(["'" ~ delimiter ~ "'", cleaned, "'" ~ delimiter ~ "'"]) }} like '%{{ delimiter }}{{ flag }}{{ delimiter }}%')
{%- endmacro %}
