{#- One row per appeal ticket with every attribute an analyst-facing relation groups tickets by: the
    tickets population of the analyst release (community_dw.disclosure). Area and period come with
    their coarser levels (community -> street -> district; week -> month -> quarter of the week's
    Monday, so weeks nest in months), which the release's row-level view generalizes along. A ticket
    without a reporter ID counts as its own contributor. -#}
with

{{ import_ctes({
    'lifecycle': ref('int_appeal_lifecycle'),
    'communities': ref('int_communities'),
}) }}

final as (

    select
        lifecycle.ticket_id,
        coalesce(lifecycle.reporter_pid, {{ dbt.concat(["'ticket:'", 'lifecycle.ticket_id']) }})
            as contributor_key,
        lifecycle.community_code,
        communities.street_code,
        communities.district_code,
        lifecycle.received_week_start,
        cast({{ dbt.date_trunc('month', 'lifecycle.received_week_start') }} as date)
            as received_month_start,
        cast({{ dbt.date_trunc('quarter', 'lifecycle.received_week_start') }} as date)
            as received_quarter_start,
        lifecycle.category_code,
        lifecycle.is_responded,
        lifecycle.is_resolved,
        lifecycle.is_response_due,
        lifecycle.is_responded_within_sla,
        lifecycle.is_resolution_due,
        lifecycle.is_resolved_within_sla,
        lifecycle.satisfaction is not null as is_rated,
        coalesce(lifecycle.is_satisfied, false) as is_satisfied
    from lifecycle
    left join communities
        on lifecycle.community_code = communities.community_code

)

select * from final
