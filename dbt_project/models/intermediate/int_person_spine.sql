{#- One record per resident pseudonym across departments: everyone in the register's latest snapshot
    plus everyone a department record names, with where they appear. `in_register` false marks the
    "data islands": department records for a person the register does not know. -#}
with

{{ import_ctes({
    'register': ref('stg_population_registry'),
    'department_records': ref('int_department_records'),
}) }}

per_person as (

    select
        resident_pid,
        sum(case when department = 'civil_affairs' then 1 else 0 end) as civil_affairs_records,
        sum(case when department = 'health' then 1 else 0 end) as health_records,
        sum(case when department = 'appeals' then 1 else 0 end) as appeals_records,
        max(record_date) as last_department_record_date
    from department_records
    group by resident_pid

),

latest_department_community as (

    select
        resident_pid,
        community_code,
        row_number() over (
            partition by resident_pid
            order by record_date desc nulls last, department asc, record_id desc
        ) as recency_rank
    from department_records

),

pseudonyms as (

    select resident_pid from register
    union
    select resident_pid from per_person

),

final as (

    select
        pseudonyms.resident_pid,
        register.resident_pid is not null as in_register,
        coalesce(register.is_present, false) as is_present,
        register.status as register_status,
        coalesce(register.community_code, latest_department_community.community_code) as community_code,
        case
            when register.resident_pid is not null then 'register'
            else 'department_record'
        end as community_code_source,
        register.grid_code,
        coalesce(per_person.civil_affairs_records, 0) > 0 as in_civil_affairs,
        coalesce(per_person.health_records, 0) > 0 as in_health,
        coalesce(per_person.appeals_records, 0) > 0 as in_appeals,
        {{ dbt.cast('coalesce(per_person.civil_affairs_records, 0)', dbt.type_int()) }}
            as civil_affairs_records,
        {{ dbt.cast('coalesce(per_person.health_records, 0)', dbt.type_int()) }}
            as health_records,
        {{ dbt.cast('coalesce(per_person.appeals_records, 0)', dbt.type_int()) }}
            as appeals_records,
        {{ dbt.cast(
            '(case when register.resident_pid is not null then 1 else 0 end)'
            ~ ' + (case when per_person.civil_affairs_records > 0 then 1 else 0 end)'
            ~ ' + (case when per_person.health_records > 0 then 1 else 0 end)'
            ~ ' + (case when per_person.appeals_records > 0 then 1 else 0 end)',
            dbt.type_int()
        ) }} as source_count,
        per_person.last_department_record_date
    from pseudonyms
    left join register
        on pseudonyms.resident_pid = register.resident_pid
    left join per_person
        on pseudonyms.resident_pid = per_person.resident_pid
    left join latest_department_community
        on
            pseudonyms.resident_pid = latest_department_community.resident_pid
            and latest_department_community.recency_rank = 1

)

select * from final
