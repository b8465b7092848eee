{#- Device stays from the carriers' hourly partitions, with the attributes every telecom model
    needs computed once: the hour the stay starts in (its partition), its date and hour of day, its
    duration and the community of its grid. A stay delivered twice (the same device, grid and start,
    e.g. in a re-delivered partition) is kept once: the copy loaded last wins. Telecom lineage only:
    the device pseudonym is in its own domain and is never joined to residents. -#}
with

{{ import_ctes({'source': source('telecom_stays', 'telecom_stays')}) }}

renamed as (

    select
        msisdn_hash as device_pid,
        grid_code,
        stay_start,
        stay_end,
        {{ dbt.date_trunc('hour', 'stay_start') }} as stay_hour,
        user_type,
        carrier,
        _batch_id,
        _source_row,
        _loaded_at
    from source

),

deduplicated as (

    {#- stay_hour leads the partition (it is a function of stay_start, so the grain is unchanged) so
        that a filter on it, as incremental telecom models apply, is pushed below the window. #}
    select
        *,
        row_number() over (
            partition by stay_hour, device_pid, grid_code, stay_start
            order by _loaded_at desc, _batch_id desc, _source_row desc
        ) as copy_rank
    from renamed

),

final as (

    select
        device_pid,
        grid_code,
        substr(grid_code, 1, 12) as community_code,
        stay_start,
        stay_end,
        stay_hour,
        {#- The casts below derive values, and fix their types across adapters: extract() is a bigint on
            DuckDB and a numeric on PostgreSQL, datediff a bigint. #}
        cast(stay_start as date) as stay_date,
        {{ dbt.cast('extract(hour from stay_start)', dbt.type_int()) }} as hour_of_day,
        {{ dbt.cast(dbt.datediff('stay_start', 'stay_end', 'second') ~ ' / 60.0', type_double()) }}
            as stay_minutes,
        coalesce(stay_end >= stay_start, false) as is_valid_duration,
        user_type,
        carrier,
        _batch_id,
        _loaded_at
    from deduplicated
    where copy_rank = 1

)

select * from final
