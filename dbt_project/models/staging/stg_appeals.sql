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
        ticket_id,
        channel,
        category_code,
        description,
        community_code,
        grid_code,
        reporter_id as reporter_pid,
        received_at,
        dispatched_at,
        responded_at,
        resolved_at,
        status,
        satisfaction,
        updated_at,
        _batch_id,
        _source_row,
        _loaded_at
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
