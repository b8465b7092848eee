{#- One row per resident from the latest full snapshot of the population register (or the latest
    one on or before var('as_of_date')). Direct identifiers stay pseudonyms; only those the warehouse
    needs are kept. -#}
{%- set as_of_date = var('as_of_date') -%}
{#- The raw register holds every daily snapshot loaded, and `source` is read twice (the batches, then
    the latest batch's rows): not materialized, so that only the batch columns are read for the first
    and the join on the latest batch filters the scan for the second, instead of a copy of every
    snapshot's rows first (a cost growing with each day the register is delivered). -#}

with

{{ import_ctes(
    {'source': source('population_registry', 'population_registry')}, not_materialized=['source']
) }}

batches as (

    select
        _batch_id,
        {#- The snapshot date: the text after the source name in the batch id (`<source>/<date>`). #}
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
        resident_id as resident_pid,
        household_id as household_pid,
        name_display,
        sex as sex_code,
        case sex
            when '1' then 'male'
            when '2' then 'female'
            else 'unknown'
        end as sex,
        birth_date,
        {{ age_in_years('birth_date', 'snapshot_date') }} as age,
        ethnicity as ethnicity_code,
        relation_to_head as relation_to_head_code,
        residence_type as residence_type_code,
        case residence_type
            when '1' then 'registered'
            when '2' then 'floating'
            when '3' then 'overseas'
            else 'unknown'
        end as residence_type,
        community_code,
        grid_code,
        move_in_date,
        status as status_code,
        case status
            when '1' then 'present'
            when '2' then 'moved_out'
            when '3' then 'deceased'
            else 'unknown'
        end as status,
        coalesce(status = '1', false) as is_present,
        {{ flag_in_list('special_groups', 'elderly_alone') }} as is_elderly_alone,
        {{ flag_in_list('special_groups', 'disabled') }} as is_disabled,
        {{ flag_in_list('special_groups', 'low_income') }} as is_low_income,
        {{ flag_in_list('special_groups', 'entitled') }} as is_entitled,
        {{ flag_in_list('special_groups', 'left_behind_child') }} as is_left_behind_child,
        substr(id_region_code, 1, 2) as province_code,
        id_checksum_valid as is_id_checksum_valid,
        updated_at,
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
