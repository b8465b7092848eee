{#- The department records that name a resident, as data, stated once for the model that unions them
    (int_department_records) and the test that counts them back (assert_department_records_reach_marts):
    per department, its staging model, the record's ID, resident pseudonym and date (SQL over the
    staging model's columns) and which of its rows are records (appeals: tickets with a reporter ID). -#}
{% macro department_record_sources() -%}
    {{- return([
        {'department': 'civil_affairs', 'model': 'stg_civil_affairs_assistance', 'record_id': 'case_id',
            'resident_pid': 'resident_pid', 'record_date': 'start_date', 'where': none},
        {'department': 'health', 'model': 'stg_health_services', 'record_id': 'service_id',
            'resident_pid': 'resident_pid', 'record_date': 'service_date', 'where': none},
        {'department': 'appeals', 'model': 'stg_appeals', 'record_id': 'ticket_id',
            'resident_pid': 'reporter_pid', 'record_date': 'cast(received_at as date)',
            'where': 'reporter_pid is not null'},
    ]) -}}
{%- endmacro %}
