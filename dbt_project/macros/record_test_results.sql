{#- Write this invocation's dbt test results to audit.dbt_test_results, next to the GX results the
    loader writes to audit.dq_results, so the auditor report shows both and their history.
    Runs as an on-run-end hook; each Cosmos task is one invocation, so every test lands once per run. -#}
{% macro record_test_results(results) %}
    {%- if execute -%}
        {%- set tests = [] -%}
        {%- for result in results if result.node.resource_type in ('test', 'unit_test') -%}
            {%- do tests.append(result) -%}
        {%- endfor -%}
        {%- if tests | length > 0 %}
            create schema if not exists audit;
            create table if not exists audit.dbt_test_results (
                invocation_id varchar(64),
                test_name varchar(512),
                test_type varchar(16),
                attached_to varchar(512),
                status varchar(16),
                failures integer,
                message varchar(2000),
                executed_at timestamp
            );
            insert into audit.dbt_test_results values
            {%- for result in tests %}
                (
                    '{{ invocation_id }}',
                    '{{ result.node.name }}',
                    '{{ result.node.resource_type }}',
                    '{{ (result.node.depends_on.nodes or ['']) | join(",") | replace("'", "''") }}',
                    '{{ result.status }}',
                    {{ result.failures if result.failures is not none else 'null' }},
                    '{{ (result.message or "") | string | replace("'", "''") | truncate(1900) }}',
                    {{ dbt.current_timestamp() }}
                ){{ "," if not loop.last }}
            {%- endfor %};
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
