{#- Health-service contacts: one row per service contact, its latest version (recorded last; then the
    batch loaded last, then the later file row). No diagnoses exist at source. -#}
with

source as (

    select * from {{ source('health_services', 'health_services') }}

),

renamed as (

    select
        {{ dbt.cast('service_id', dbt.type_string()) }} as service_id,
        {{ dbt.cast('resident_id', dbt.type_string()) }} as resident_pid,
        {{ dbt.cast('service_type', dbt.type_string()) }} as service_type,
        cast(service_date as date) as service_date,
        {{ dbt.cast('provider_org_code', dbt.type_string()) }} as provider_org_code,
        {{ dbt.cast('community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('outcome', dbt.type_string()) }} as outcome,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at,
        cast(id_checksum_valid as boolean) as is_id_checksum_valid,
        _batch_id,
        _source_row,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source

),

versioned as (

    select
        *,
        row_number() over (
            partition by service_id
            order by recorded_at desc nulls last, _loaded_at desc, _source_row desc
        ) as version_rank
    from renamed

),

final as (

    select
        service_id,
        resident_pid,
        service_type,
        service_date,
        provider_org_code,
        community_code,
        outcome,
        coalesce(outcome = 'completed', false) as is_completed,
        recorded_at,
        {{ dbt.cast(dbt.datediff('service_date', 'recorded_at', 'day'), dbt.type_int()) }}
            as recording_lag_days,
        is_id_checksum_valid,
        _batch_id,
        _loaded_at
    from versioned
    where version_rank = 1

)

select * from final
