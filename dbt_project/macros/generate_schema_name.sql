{#- Use a model's custom schema name verbatim (staging, intermediate, marts, ...), not dbt's default
    `<target schema>_<custom schema>`: the warehouse layout and the grants are written against these
    names. Nodes without a custom schema go to the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
