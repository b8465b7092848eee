{#- The import CTEs a model or test starts with, one per relation it reads: `<name> as (select * from
    <relation>)` for each name and relation, in order, each followed by a comma (the model's own CTEs
    follow). Called right after `with`, with `ref()`s and `source()`s, so that a model's inputs are still
    the first thing it states; it renders the same SQL as the CTEs written out. The names in
    `not_materialized` are declared `as not materialized` (DuckDB and PostgreSQL): read twice, they are
    still inlined, so that each reader's filter reaches the scan instead of a full copy of the relation. -#}
{% macro import_ctes(relations, not_materialized=[]) -%}
    {%- for name, relation in relations.items() -%}
        {%- if not loop.first %}

{% endif -%}
{{ name }} as {% if name in not_materialized %}not materialized {% endif %}(

    select * from {{ relation }}

),
    {%- endfor -%}
{%- endmacro %}
