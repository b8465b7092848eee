{#- The import CTEs a model or test starts with, one per relation it reads: `<name> as (select * from
    <relation>)` for each name and relation, in order, each followed by a comma (the model's own CTEs
    follow). Called right after `with`, with `ref()`s and `source()`s, so that a model's inputs are still
    the first thing it states; it renders the same SQL as the CTEs written out. -#}
{% macro import_ctes(relations) -%}
    {%- for name, relation in relations.items() -%}
        {%- if not loop.first %}

{% endif -%}
{{ name }} as (

    select * from {{ relation }}

),
    {%- endfor -%}
{%- endmacro %}
