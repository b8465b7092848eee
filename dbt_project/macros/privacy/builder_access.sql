{#- The role dbt builds as (cdw_access_policy's `builder`, the profile's CDW_PG_ROLE) creates the dbt
    schemas and the relations in them: CREATE on the database (granted when the current user may act
    for the database's owner) and USAGE and CREATE on every dbt schema, whoever created it (the
    warehouse's owner, when `cdw warehouse-init` applied the policy first). PostgreSQL only. -#}
{% macro grant_builder_access() -%}
    {%- set policy = cdw_access_policy() -%}
    {%- call postgres_do() %}
    if pg_catalog.pg_has_role(current_user,
            (select datdba from pg_catalog.pg_database where datname = current_database()), 'USAGE') then
        execute format('grant create on database %I to {{ policy.builder }}', current_database());
    end if;
    {%- for schema in policy.dbt_schemas %}
    if exists (select from pg_catalog.pg_namespace where nspname = '{{ schema }}'
            and pg_catalog.pg_has_role(current_user, nspowner, 'USAGE')) then
        grant usage, create on schema {{ schema }} to {{ policy.builder }};
    end if;
    {%- endfor %}
    {%- endcall %}
{%- endmacro %}


{#- `dbt run-operation cdw_apply_access_policy`: the on-run-start hook's SQL, run on its own, as the
    warehouse's owner before anything is loaded (community_dw.warehouse.initialise). -#}
{% macro cdw_apply_access_policy() -%}
    {%- do run_query(apply_access_policy()) -%}
    {%- do log('access policy applied as ' ~ target.user, info=true) -%}
{%- endmacro %}
