{#- Small-cell suppression for analyst-facing aggregates: a count under k is withheld (null).
    k is usually var('k_person') or var('k_device'). For analyst-facing marts use
    complementary_suppression (macros/privacy/suppression.sql), which also withholds the cells a
    small cell could be recovered from through totals. -#}
{% macro suppress_small_cells(count_expr, k) -%}
    case when {{ is_small_cell(count_expr, k) }} then null else {{ count_expr }} end
{%- endmacro %}

{#- True when a count is under k and must be suppressed (false for a null count). -#}
{% macro is_small_cell(count_expr, k) -%}
    coalesce({{ count_expr }} < {{ k | int }}, false)
{%- endmacro %}
