{#- The caller's statements as one PL/pgSQL DO block (with a `declare` section when given), on
    PostgreSQL; nothing elsewhere: DuckDB has no roles to grant to. What every privacy macro that
    changes roles or privileges runs in. -#}
{% macro postgres_do(declare=none) -%}
    {%- if target.type == 'postgres' %}
do $$
        {%- if declare %}
declare
    {{ declare }};
        {%- endif %}
begin
    {{- caller() }}
end
$$;
    {%- endif -%}
{%- endmacro %}
