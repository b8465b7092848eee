{#- One row per appeal ticket with its lifecycle measured: hours from receipt to dispatch, first
    response and resolution (minute precision, dbt.datediff), and whether each SLA was met. A ticket
    counts towards an SLA once it is "due": it reached the milestone, or the deadline passed by the
    evaluation time (the latest `updated_at` the API has delivered) without it. Tickets closed without
    a response (duplicates, withdrawn) are never due. -#}
{%- set respond_hours = var('appeal_response_sla_hours') | int -%}
{%- set resolve_hours = var('appeal_resolution_sla_hours') | int -%}

with

{{ import_ctes({'tickets': ref('stg_appeals')}) }}

evaluation as (

    select max(updated_at) as evaluated_at
    from tickets

),

measured as (

    select
        tickets.*,
        evaluation.evaluated_at,
        {{ dbt.datediff('tickets.received_at', 'tickets.dispatched_at', 'minute') }}
            as minutes_to_dispatch,
        {{ dbt.datediff('tickets.received_at', 'tickets.responded_at', 'minute') }}
            as minutes_to_respond,
        {{ dbt.datediff('tickets.received_at', 'tickets.resolved_at', 'minute') }}
            as minutes_to_resolve,
        {{ dbt.dateadd('hour', respond_hours, 'tickets.received_at') }} as response_due_at,
        {{ dbt.dateadd('hour', resolve_hours, 'tickets.received_at') }} as resolution_due_at
    from tickets
    cross join evaluation

),

final as (

    select
        ticket_id,
        channel,
        category_code,
        community_code,
        grid_code,
        reporter_pid,
        received_at,
        cast(received_at as date) as received_date,
        cast({{ dbt.date_trunc('week', 'received_at') }} as date) as received_week_start,
        dispatched_at,
        responded_at,
        resolved_at,
        status,
        is_closed,
        {{ dbt.cast('minutes_to_dispatch / 60.0', type_double()) }} as hours_to_dispatch,
        {{ dbt.cast('minutes_to_respond / 60.0', type_double()) }} as hours_to_respond,
        {{ dbt.cast('minutes_to_resolve / 60.0', type_double()) }} as hours_to_resolve,
        {{ respond_hours }} as response_sla_hours,
        {{ resolve_hours }} as resolution_sla_hours,
        cast(response_due_at as {{ dbt.type_timestamp() }}) as response_due_at,
        cast(resolution_due_at as {{ dbt.type_timestamp() }}) as resolution_due_at,
        responded_at is not null as is_responded,
        resolved_at is not null as is_resolved,
        {{ sla_is_due('responded_at', 'response_due_at') }} as is_response_due,
        coalesce(minutes_to_respond <= {{ respond_hours * 60 }}, false) as is_responded_within_sla,
        {{ sla_is_due('resolved_at', 'resolution_due_at') }} as is_resolution_due,
        coalesce(minutes_to_resolve <= {{ resolve_hours * 60 }}, false) as is_resolved_within_sla,
        satisfaction,
        satisfaction >= 4 as is_satisfied,
        evaluated_at
    from measured

)

select * from final
