{#- Health-service contacts: one row per service contact, its latest version (recorded last; then the
    batch loaded last, then the later file row). No diagnoses exist at source. -#}
with

{{ import_ctes({'source': source('health_services', 'health_services')}) }}

renamed as (

    select
        service_id,
        resident_id as resident_pid,
        service_type,
        service_date,
        provider_org_code,
        community_code,
        outcome,
        recorded_at,
        id_checksum_valid as is_id_checksum_valid,
        _batch_id,
        _source_row,
        _loaded_at
    from source

),

latest_versions as (

    {{ latest_version('renamed', key='service_id', version_column='recorded_at') }}

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
        {#- datediff is a bigint on DuckDB, an integer on PostgreSQL: cast to one type on both. #}
        {{ dbt.cast(dbt.datediff('service_date', 'recorded_at', 'day'), dbt.type_int()) }}
            as recording_lag_days,
        is_id_checksum_valid,
        _batch_id,
        _loaded_at
    from latest_versions

)

select * from final
