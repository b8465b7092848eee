{#- Civil-affairs assistance cases: one row per case, its latest version (updated last; then the batch
    loaded last, then the later file row). Amounts stay exact decimals. -#}
with

source as (

    select * from {{ source('civil_affairs_assistance', 'civil_affairs_assistance') }}

),

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
        _loaded_at
    from source

),

versioned as (

    select
        *,
        row_number() over (
            partition by case_id
            order by updated_at desc nulls last, _loaded_at desc, _source_row desc
        ) as version_rank,
        count(*) over (partition by case_id) as version_count
    from renamed

),

final as (

    select
        case_id,
        resident_pid,
        programme,
        status,
        coalesce(status = 'active', false) as is_active,
        start_date,
        end_date,
        monthly_amount,
        community_code,
        updated_at,
        is_id_checksum_valid,
        {{ dbt.cast('version_count', dbt.type_int()) }} as version_count,
        _batch_id,
        _loaded_at
    from versioned
    where version_rank = 1

)

select * from final
