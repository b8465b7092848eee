{#- The disclosure policy (vars.disclosure_policy in dbt_project.yml, read by community_dw.disclosure
    too): k for a unit of count (person, device). Small and complementary cells of analyst-facing
    relations are withheld by the release step, not in SQL; models use k only where the threshold
    is part of their meaning (a crowd alert's usual level). -#}
{% macro disclosure_k(unit) -%}
    {%- set policy = var('disclosure_policy') -%}
    {%- if unit not in policy.k -%}
        {{ exceptions.raise_compiler_error('disclosure_policy has no k for unit ' ~ unit) }}
    {%- endif -%}
    {{- return(policy.k[unit] | int) -}}
{%- endmacro %}

{#- True when a count is under k (false for a null count). -#}
{% macro is_small_cell(count_expr, k) -%}
    coalesce({{ count_expr }} < {{ k | int }}, false)
{%- endmacro %}
