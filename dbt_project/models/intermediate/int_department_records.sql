{#- Every department record that names a resident (assistance cases, health contacts, appeal tickets
    with a reporter ID; the departments as data: department_record_sources), in one shape, with whether
    its resident pseudonym is in the register. The register is the latest snapshot (any status): a
    record matching no row there is a "data island". -#}
{%- set sources = department_record_sources() -%}

with

{{ import_ctes({'register': ref('stg_population_registry')}) }}
{%- for source in sources %}

{{ source.department }} as (

    select * from {{ ref(source.model) }}
    {%- if source.where %}
    where {{ source.where }}
    {%- endif %}

),
{%- endfor %}

department_records as (
    {%- for source in sources %}

    select
        '{{ source.department }}' as department,
        {{ source.record_id }} as record_id,
        {{ source.resident_pid }} as resident_pid,
        community_code,
        {{ source.record_date }} as record_date
    from {{ source.department }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select
        {{ dbt.cast('department_records.department', dbt.type_string()) }} as department,
        department_records.record_id,
        department_records.resident_pid,
        department_records.community_code,
        department_records.record_date,
        register.resident_pid is not null as in_register
    from department_records
    left join register
        on department_records.resident_pid = register.resident_pid

)

select * from final
