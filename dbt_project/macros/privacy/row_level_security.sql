{#- Row-level security on the `care` schema (PostgreSQL; empty elsewhere), run as a post-hook on every
    care model (dbt_project.yml).

    Tables: RLS enabled and one policy, `community_scope`: a row is visible when its community_code is
    one of the communities of the querying role in the grid-worker mapping. The mapping (seed
    `grid_worker_communities`, schema `access`) is not readable by grid workers: a policy's subquery
    runs with the querying role's privileges, so the policy reads it through the view
    `care.grid_worker_scope` instead, which returns only the querying role's own rows (`current_user`)
    and, being a view, reads the mapping with its owner's rights. The owner of the tables (the role
    running dbt) is not subject to the policy.

    Views: a view runs with its owner's rights and would bypass the policies of the tables it reads,
    so a care view is refused unless it is the scope view (meta `access_scope: true`), which is made a
    security barrier (the caller's filters cannot see rows before its own `where`). -#}

{% macro community_rls(scope_model='grid_worker_scope') -%}
    {%- if target.type != 'postgres' or not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set materialized = config.get('materialized') -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- if materialized == 'view' -%}
        {%- if not meta.get('access_scope') -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ': care relations must be tables (row-level security); a view would bypass it') }}
        {%- endif %}
alter view {{ this }} set (security_barrier = true)
    {%- else -%}
        {%- if 'community_code' not in model.columns -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ': a care table needs a documented community_code column for row-level security') }}
        {%- endif -%}
        {%- set scope = privacy_model_node(scope_model) -%}
        {%- if scope.unique_id not in model.depends_on.nodes -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ': the model must depend on ' ~ scope_model ~ ' (add a depends_on comment calling'
                ~ ' ref) so that it exists before the row-level security policy is created') }}
        {%- endif -%}
        {%- set scope_relation = api.Relation.create(
            database=scope.database, schema=scope.schema, identifier=scope.alias) %}
alter table {{ this }} enable row level security;
drop policy if exists community_scope on {{ this }};
create policy community_scope on {{ this }} for select
    using (community_code in (select scope.community_code from {{ scope_relation }} as scope))
    {%- endif -%}
{%- endmacro %}


{#- The model node of the dbt graph named `model_name` (compile error when there is none). -#}
{% macro privacy_model_node(model_name) -%}
    {%- set found = graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', model_name)
        | list -%}
    {%- if found | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            'masked_select: no model named ' ~ model_name ~ ' in the project (found ' ~ found | length ~ ')') }}
    {%- endif -%}
    {{- return(found[0]) -}}
{%- endmacro %}
