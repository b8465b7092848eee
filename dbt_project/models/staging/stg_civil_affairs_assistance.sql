{#- Civil-affairs assistance cases: one row per case, its latest version (updated last; then the batch
    loaded last, then the later file row). Amounts stay exact decimals. -#}
with

{{ import_ctes({'source': source('civil_affairs_assistance', 'civil_affairs_assistance')}) }}

renamed as (

    select
        case_id,
        resident_id as resident_pid,
        programme,
        status,
        start_date,
        end_date,
        monthly_amount,
        community_code,
        updated_at,
        id_checksum_valid as is_id_checksum_valid,
        _batch_id,
        _source_row,
        _loaded_at,
        coalesce(status = 'active', false) as is_active
    from source

),

latest_versions as (

    {{ latest_version('renamed', key='case_id', version_column='updated_at') }}

),

final as (

    select
        case_id,
        resident_pid,
        programme,
        status,
        is_active,
        start_date,
        end_date,
        monthly_amount,
        community_code,
        updated_at,
        is_id_checksum_valid,
        version_count,
        _batch_id,
        _loaded_at
    from latest_versions

)

select * from final
