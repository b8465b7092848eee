{#- Who may read what on PostgreSQL: the reviewed access policy, as data, stated here only.

    Roles are NOLOGIN group roles; people get LOGIN roles that are members of one of them. Schema USAGE
    is the outer gate (a role without it cannot name anything in the schema), and one rule gives SELECT
    on relations: the roles that may use a schema read every relation in it. dbt applies the rule to
    each relation it builds (the `grant_select_per_access_policy` post-hook, dbt_project.yml),
    `grant_loader_schemas` to the tables the Python loader creates in raw, vault and audit, and
    community_dw.disclosure to the published release it writes in `marts` and `analyst` (it grants
    SELECT to the roles with USAGE). DuckDB has no roles: there, separation is physical
    (community_dw.publish writes an analyst file holding only marts and analyst).

    `access_audit`: pgaudit's object audit role (community_dw.audit_view.access_log). It holds SELECT on
    every relation of the person-level schemas that carries a column other than `privacy: none`, and
    nothing else (no USAGE, no members, never LOGIN), so that pgaudit logs every read of them. -#}

{% macro cdw_access_policy() -%}
    {{- return({
        'roles': ['cdw_loader', 'cdw_engineer', 'cdw_analyst', 'cdw_grid_worker', 'cdw_auditor', 'cdw_steward',
            'cdw_access_audit'],
        'dbt_schemas': {
            'staging': ['cdw_engineer'],
            'intermediate': ['cdw_engineer'],
            'snapshots': ['cdw_engineer'],
            'candidate_marts': ['cdw_engineer'],
            'candidate_analyst': ['cdw_engineer'],
            'marts': ['cdw_analyst', 'cdw_engineer'],
            'analyst': ['cdw_analyst', 'cdw_engineer'],
            'care': ['cdw_grid_worker'],
            'audit': ['cdw_auditor', 'cdw_engineer', 'cdw_loader'],
            'access': ['cdw_auditor', 'cdw_engineer'],
        },
        'loader_schemas': {
            'raw': {'usage': ['cdw_loader', 'cdw_engineer'], 'read': ['cdw_engineer', 'cdw_loader'], 'write': ['cdw_loader'],
                'table_writes': {'cdw_loader': 'insert, delete'}},
            'vault': {'usage': ['cdw_loader', 'cdw_steward'], 'read': ['cdw_steward'], 'write': [],
                'table_writes': {'cdw_loader': 'insert'}},
            'audit': {'usage': ['cdw_loader', 'cdw_auditor', 'cdw_engineer'], 'read': ['cdw_auditor', 'cdw_engineer', 'cdw_loader'],
                'write': ['cdw_loader', 'cdw_engineer'], 'table_writes': {'cdw_loader': 'insert, delete'}},
        },
        'builder': 'cdw_engineer',
        'access_audit': {'role': 'cdw_access_audit', 'schemas': ['care', 'vault', 'raw']},
    }) -}}
{%- endmacro %}


{#- Post-hook of every model, seed and snapshot (dbt_project.yml; PostgreSQL, empty elsewhere): SELECT
    on the relation for exactly the roles the policy lets use its schema, through dbt's own grant
    machinery (`apply_grants`: missing grants are granted, any other revoked), so that no `grants`
    config restates the policy. A schema missing from the policy is a compile error. -#}
{% macro grant_select_per_access_policy() -%}
    {%- if target.type != 'postgres' or not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set readers = cdw_access_policy().dbt_schemas.get(this.schema) -%}
    {%- if readers is none -%}
        {{ exceptions.raise_compiler_error(
            this ~ ': schema ' ~ this.schema ~ ' is not in the access policy (cdw_access_policy)') }}
    {%- endif -%}
    {%- do apply_grants(this, {'select': readers + audited_by_pgaudit(policy_schema=this.schema)}, should_revoke=true) -%}
{%- endmacro %}


{#- [the pgaudit object audit role] when the relation being built holds person-level data: it is in one of
    the audited schemas and has a column whose privacy is not `none` (or no documented columns at all,
    which is audited to be safe). A care view that only scopes rows (grid_worker_scope) is not. -#}
{% macro audited_by_pgaudit(policy_schema) -%}
    {%- set audit = cdw_access_policy().access_audit -%}
    {%- if policy_schema not in audit.schemas -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set labels = model.columns.values() | map(attribute='meta') | map(attribute='privacy', default='unknown') | list -%}
    {{- return([audit.role] if not labels or labels | reject('equalto', 'none') | list else []) -}}
{%- endmacro %}


{#- on-run-start hook (PostgreSQL; empty elsewhere): create the group roles if missing, create the dbt
    schemas, and make schema USAGE exactly what the policy says (granted to the listed roles, revoked
    from every other cdw_ role and from PUBLIC). Idempotent: safe on every run. -#}
{% macro apply_access_policy() -%}
    {%- if target.type != 'postgres' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set policy = cdw_access_policy() -%}
    {%- call postgres_do(declare='member record') %}
    {%- for role in policy.roles %}
    if not exists (select from pg_catalog.pg_roles where rolname = '{{ role }}') then
        create role {{ role }} nologin;
    end if;
    {%- endfor %}
    {#- Whoever were a member of the audit role would read every person-level relation. #}
    for member in
        select m.member::regrole::text as name
        from pg_catalog.pg_auth_members as m
        where m.roleid = '{{ policy.access_audit.role }}'::regrole
    loop
        execute format('revoke {{ policy.access_audit.role }} from %s', member.name);
    end loop;
    {%- endcall %}
    {%- for schema, readers in policy.dbt_schemas.items() %}
create schema if not exists {{ schema }};
revoke all on schema {{ schema }} from public;
        {%- for role in policy.roles %}
{{ 'grant' if role in readers else 'revoke' }} usage on schema {{ schema }} {{ 'to' if role in readers else 'from' }} {{ role }};
        {%- endfor %}
    {%- endfor %}
{{ grant_loader_schemas() }}
{{ hide_catalog_statistics() }}
{{ grant_builder_access() }}
{%- endmacro %}


{#- Row counts of relations a role cannot read are still counts: PostgreSQL shows every role the
    planner's estimate (`pg_class.reltuples`, `relpages`) and the statistics collector's live and dead
    tuples (`pg_stat_*_tables`, the `pg_stat_get_*(oid)` functions) of every table in the database.
    Those are withdrawn from PUBLIC and given back to the roles that read person-level data anyway
    (engineers, loader, steward, auditor); analysts and grid workers keep every other catalog column,
    so clients (psql's \d, information_schema) still work. Changing catalog privileges needs a
    superuser: run by another role this does nothing and says so (apply it once as a superuser). -#}
{% macro hide_catalog_statistics() -%}
    {%- set trusted = ['cdw_engineer', 'cdw_loader', 'cdw_steward', 'cdw_auditor'] -%}
    {%- set stat_views = ['pg_stat_all_tables', 'pg_stat_user_tables', 'pg_stat_sys_tables',
        'pg_stat_xact_all_tables', 'pg_stat_xact_user_tables', 'pg_stat_xact_sys_tables',
        'pg_statio_all_tables', 'pg_statio_user_tables', 'pg_statio_sys_tables'] -%}
    {%- call postgres_do(declare='stat_function record') %}
    if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
        raise notice 'catalog statistics stay readable by every role: apply hide_catalog_statistics as a superuser';
        return;
    end if;
    revoke select on pg_catalog.pg_class from public;
    grant select (oid, relname, relnamespace, reltype, reloftype, relowner, relam, relfilenode,
        reltablespace, reltoastrelid, relhasindex, relisshared, relpersistence, relkind, relnatts,
        relchecks, relhasrules, relhastriggers, relhassubclass, relrowsecurity, relforcerowsecurity,
        relispopulated, relreplident, relispartition, relrewrite, relfrozenxid, relminmxid, relacl,
        reloptions, relpartbound) on pg_catalog.pg_class to public;
    grant select on pg_catalog.pg_class to {{ trusted | join(', ') }};
    {%- for view in stat_views %}
    revoke select on pg_catalog.{{ view }} from public;
    grant select on pg_catalog.{{ view }} to {{ trusted | join(', ') }};
    {%- endfor %}
    for stat_function in
        select p.oid::regprocedure as signature
        from pg_catalog.pg_proc as p
        where p.pronamespace = 'pg_catalog'::regnamespace
            and p.proname like 'pg\_stat\_get\_%'
            and p.pronargs = 1
            and p.proargtypes[0] = 'oid'::regtype
    loop
        execute format('revoke execute on function %s from public', stat_function.signature);
        execute format('grant execute on function %s to {{ trusted | join(', ') }}', stat_function.signature);
    end loop;
    {%- endcall %}
{%- endmacro %}


{#- raw, vault and audit tables are declared by the warehouse's owner (community_dw.warehouse.initialise)
    or created by the loader, not by dbt (`write` roles get CREATE on the schema; the vault has none, so
    the loader never owns, and so never reads, vault.identities); `table_writes` are the privileges a
    role gets on every table of the schema, whoever created it (the loader inserts into the vault, and
    needs no SELECT for it). Run only by a role that owns the schema (or a superuser): the role dbt
    builds as leaves them to the owner. Readers get SELECT on whatever exists and, through
    default privileges, on tables created later by the role running dbt or by the loader role (when the
    role running dbt may act for it). Schemas that do not exist yet are left alone. PostgreSQL only. -#}
{% macro grant_loader_schemas() -%}
    {%- set policy = cdw_access_policy() -%}
    {%- call postgres_do() %}
    {%- for schema, access in policy.loader_schemas.items() %}
    if exists (select from pg_catalog.pg_namespace where nspname = '{{ schema }}'
            and pg_catalog.pg_has_role(current_user, nspowner, 'USAGE')) then
        revoke all on schema {{ schema }} from public;
        {%- for role in policy.roles %}
        {%- if role in access.usage %}
        grant usage on schema {{ schema }} to {{ role }};
        {%- elif schema not in policy.dbt_schemas or role not in policy.dbt_schemas[schema] %}
        revoke all on schema {{ schema }} from {{ role }};
        revoke all on all tables in schema {{ schema }} from {{ role }};
        {%- endif %}
        {%- endfor %}
        {%- for writer in access.write %}
        grant create on schema {{ schema }} to {{ writer }};
        {%- endfor %}
        {%- for writer, privileges in access.table_writes.items() %}
        grant {{ privileges }} on all tables in schema {{ schema }} to {{ writer }};
        alter default privileges in schema {{ schema }} grant {{ privileges }} on tables to {{ writer }};
        {%- endfor %}
        {%- for role in access.read + ([policy.access_audit.role] if schema in policy.access_audit.schemas else []) %}
        grant select on all tables in schema {{ schema }} to {{ role }};
        alter default privileges in schema {{ schema }} grant select on tables to {{ role }};
            {%- for writer in access.write %}
        if pg_catalog.pg_has_role(current_user, '{{ writer }}', 'USAGE') then
            alter default privileges for role {{ writer }} in schema {{ schema }} grant select on tables to {{ role }};
        end if;
            {%- endfor %}
        {%- endfor %}
    end if;
    {%- endfor %}
    {%- endcall %}
{%- endmacro %}
