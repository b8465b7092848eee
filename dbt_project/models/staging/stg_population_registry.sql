{#- One row per resident from the latest full snapshot of the population register (or the latest
    one on or before var('as_of_date')). Direct identifiers stay pseudonyms; only those the warehouse
    needs are kept. -#}
{%- set as_of_date = var('as_of_date') -%}

with

source as (

    select * from {{ source('population_registry', 'population_registry') }}

),

batches as (

    select
        _batch_id,
        {{ dbt.safe_cast(dbt.split_part('_batch_id', "'/'", 2), 'date') }} as snapshot_date,
        max(_loaded_at) as loaded_at
    from source
    group by _batch_id

),

latest_batch as (

    select
        _batch_id,
        snapshot_date
    from batches
    {%- if as_of_date is not none %}
    where snapshot_date <= cast('{{ as_of_date }}' as date)
    {%- endif %}
    order by snapshot_date desc nulls last, loaded_at desc, _batch_id desc
    limit 1

),

snapshot as (

    select
        source.*,
        latest_batch.snapshot_date
    from source
    inner join latest_batch
        on source._batch_id = latest_batch._batch_id

),

renamed as (

    select
        {{ dbt.cast('resident_id', dbt.type_string()) }} as resident_pid,
        {{ dbt.cast('household_id', dbt.type_string()) }} as household_pid,
        {{ dbt.cast('name_display', dbt.type_string()) }} as name_display,
        {{ dbt.cast('sex', dbt.type_string()) }} as sex_code,
        case {{ dbt.cast('sex', dbt.type_string()) }}
            when '1' then 'male'
            when '2' then 'female'
            else 'unknown'
        end as sex,
        cast(birth_date as date) as birth_date,
        {{ age_in_years('cast(birth_date as date)', 'snapshot_date') }} as age,
        {{ dbt.cast('ethnicity', dbt.type_string()) }} as ethnicity_code,
        {{ dbt.cast('relation_to_head', dbt.type_string()) }} as relation_to_head_code,
        {{ dbt.cast('residence_type', dbt.type_string()) }} as residence_type_code,
        case {{ dbt.cast('residence_type', dbt.type_string()) }}
            when '1' then 'registered'
            when '2' then 'floating'
            when '3' then 'overseas'
            else 'unknown'
        end as residence_type,
        {{ dbt.cast('community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('grid_code', dbt.type_string()) }} as grid_code,
        cast(move_in_date as date) as move_in_date,
        {{ dbt.cast('status', dbt.type_string()) }} as status_code,
        case {{ dbt.cast('status', dbt.type_string()) }}
            when '1' then 'present'
            when '2' then 'moved_out'
            when '3' then 'deceased'
            else 'unknown'
        end as status,
        coalesce({{ dbt.cast('status', dbt.type_string()) }} = '1', false) as is_present,
        {{ flag_in_list('special_groups', 'elderly_alone') }} as is_elderly_alone,
        {{ flag_in_list('special_groups', 'disabled') }} as is_disabled,
        {{ flag_in_list('special_groups', 'low_income') }} as is_low_income,
        {{ flag_in_list('special_groups', 'entitled') }} as is_entitled,
        {{ flag_in_list('special_groups', 'left_behind_child') }} as is_left_behind_child,
        substr({{ dbt.cast('id_region_code', dbt.type_string()) }}, 1, 2) as province_code,
        cast(id_checksum_valid as boolean) as is_id_checksum_valid,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        snapshot_date,
        _batch_id,
        _source_row

    from snapshot

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by resident_pid
            order by updated_at desc nulls last, _source_row desc
        ) as row_num
    from renamed

),

final as (

    select
        resident_pid,
        household_pid,
        name_display,
        sex_code,
        sex,
        birth_date,
        age,
        {{ age_band('age') }} as age_band,
        ethnicity_code,
        relation_to_head_code,
        residence_type_code,
        residence_type,
        community_code,
        grid_code,
        move_in_date,
        status_code,
        status,
        is_present,
        is_elderly_alone,
        is_disabled,
        is_low_income,
        is_entitled,
        is_left_behind_child,
        province_code,
        is_id_checksum_valid,
        updated_at,
        snapshot_date,
        _batch_id
    from deduplicated
    where row_num = 1

)

select * from final
