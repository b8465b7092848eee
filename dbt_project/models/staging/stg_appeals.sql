{#- Appeal tickets: one row per ticket, its latest version (updated last; then the batch loaded last,
    then the later record). Each version carries the full lifecycle so far, so the latest version's
    timestamps are the ticket's lifecycle. The reporter's phone pseudonym is not carried forward
    (minimum necessary); the reporter's resident pseudonym is, for the person spine. -#}
with

{{ import_ctes({'source': source('appeals', 'appeals')}) }}

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
        _loaded_at,
        coalesce(status in ('resolved', 'closed'), false) as is_closed
    from source

),

latest_versions as (

    {{ latest_version('renamed', key='ticket_id', version_column='updated_at') }}

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
        is_closed,
        satisfaction,
        updated_at,
        version_count,
        _batch_id,
        _loaded_at
    from latest_versions

)

select * from final
