{#- Department records must all reach the spine and the data-islands mart: records per department in
    the mart add up to the department's staging rows (appeals: tickets with a reporter ID), every
    register resident is in the spine once, and the spine's persons outside the register are exactly
    the unmatched pseudonyms. Returns one row per violation. The staging rows are counted straight from
    each department's staging model (the departments as data: department_record_sources). -#}
with

{{ import_ctes({
    'register': ref('stg_population_registry'),
    'department_records': ref('int_department_records'),
    'spine': ref('int_person_spine'),
    'islands': ref('department_record_islands'),
}) }}

staging_counts as (
    {%- for source in department_record_sources() %}

    select
        '{{ source.department }}' as department,
        count(*) as n
    from {{ ref(source.model) }}
    {%- if source.where %}
    where {{ source.where }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

mart_counts as (

    select
        department,
        sum(records) as n
    from islands
    group by department

),

record_check as (

    select
        staging_counts.department as subject,
        'records_mismatch' as violation
    from staging_counts
    left join mart_counts
        on staging_counts.department = mart_counts.department
    where staging_counts.n <> coalesce(mart_counts.n, 0)

),

register_check as (

    select
        'register' as subject,
        'register_residents_not_in_spine_once' as violation
    from register
    left join spine
        on register.resident_pid = spine.resident_pid and spine.in_register
    group by register.resident_pid
    having count(spine.resident_pid) <> 1

),

unmatched_pids as (

    select distinct resident_pid
    from department_records
    where not in_register

),

island_check as (

    select
        'spine' as subject,
        'islands_differ_from_unmatched_records' as violation
    from spine
    full outer join unmatched_pids
        on spine.resident_pid = unmatched_pids.resident_pid
    where
        (spine.resident_pid is not null and not spine.in_register and unmatched_pids.resident_pid is null)
        or (unmatched_pids.resident_pid is not null and (spine.resident_pid is null or spine.in_register))

),

final as (

    select * from record_check
    union all
    select * from register_check
    union all
    select * from island_check

)

select * from final
