{#- Every department record that names a resident (assistance cases, health contacts, appeal tickets
    with a reporter ID), in one shape, with whether its resident pseudonym is in the register. The
    register is the latest snapshot (any status): a record matching no row there is a "data island". -#}
with

{{ import_ctes({
    'register': ref('stg_population_registry'),
    'cases': ref('stg_civil_affairs_assistance'),
    'contacts': ref('stg_health_services'),
    'tickets': ref('stg_appeals'),
}) }}

department_records as (

    select
        'civil_affairs' as department,
        case_id as record_id,
        resident_pid,
        community_code,
        start_date as record_date
    from cases

    union all

    select
        'health' as department,
        service_id as record_id,
        resident_pid,
        community_code,
        service_date as record_date
    from contacts

    union all

    select
        'appeals' as department,
        ticket_id as record_id,
        reporter_pid as resident_pid,
        community_code,
        cast(received_at as date) as record_date
    from tickets
    where reporter_pid is not null

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
