{#- Appeal tickets: one row per ticket, its latest version (updated last; then the batch loaded last,
    then the later record). Each version carries the full lifecycle so far, so the latest version's
    timestamps are the ticket's lifecycle. The reporter's phone pseudonym is not carried forward
    (minimum necessary); the reporter's resident pseudonym is, for the person spine. -#}
with

source as (

    select * from {{ source('appeals', 'appeals') }}

),

renamed as (

    select
        {{ dbt.cast('ticket_id', dbt.type_string()) }} as ticket_id,
        {{ dbt.cast('channel', dbt.type_string()) }} as channel,
        {{ dbt.cast('category_code', dbt.type_string()) }} as category_code,
        {{ dbt.cast('description', dbt.type_string()) }} as description,
        {{ dbt.cast('community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('grid_code', dbt.type_string()) }} as grid_code,
        {{ dbt.cast('reporter_id', dbt.type_string()) }} as reporter_pid,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(dispatched_at as {{ dbt.type_timestamp() }}) as dispatched_at,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
        {{ dbt.cast('status', dbt.type_string()) }} as status,
        {{ dbt.cast('satisfaction', dbt.type_int()) }} as satisfaction,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        _batch_id,
        _source_row,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source

),

versioned as (

    select
        *,
        row_number() over (
            partition by ticket_id
            order by updated_at desc nulls last, _loaded_at desc, _source_row desc
        ) as version_rank,
        count(*) over (partition by ticket_id) as version_count
    from renamed

),

final as (

    select
        ticket_id,
        channel,
        category_code,
        description,
        community_code,
        grid_code,
        reporter_pid,
        received_at,
        dispatched_at,
        responded_at,
        resolved_at,
        status,
        coalesce(status in ('resolved', 'closed'), false) as is_closed,
        satisfaction,
        updated_at,
        {{ dbt.cast('version_count', dbt.type_int()) }} as version_count,
        _batch_id,
        _loaded_at
    from versioned
    where version_rank = 1

)

select * from final
