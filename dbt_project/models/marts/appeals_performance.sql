{#- Analyst-facing appeal handling, the hotline's "three rates": per community, ISO week of receipt
    (Monday) and category, tickets received, responded and resolved; median hours from receipt to
    response and to resolution; the share of due tickets that met the response and resolution SLAs;
    and satisfaction. Exact values (a candidate): the release step withholds what comes from fewer than
    k reporters (community_dw.disclosure). -#}
with

{{ import_ctes({
    'lifecycle': ref('int_appeal_lifecycle'),
    'communities': ref('int_communities'),
}) }}

weekly as (

    select
        community_code,
        received_week_start,
        category_code,
        count(*) as tickets_received,
        sum(case when is_responded then 1 else 0 end) as tickets_responded,
        sum(case when is_resolved then 1 else 0 end) as tickets_resolved,
        percentile_cont(0.5) within group (order by hours_to_respond) as median_hours_to_respond,
        percentile_cont(0.5) within group (order by hours_to_resolve) as median_hours_to_resolve,
        sum(case when is_response_due then 1 else 0 end) as responses_due,
        sum(case when is_response_due and is_responded_within_sla then 1 else 0 end) as responded_within_sla,
        sum(case when is_resolution_due then 1 else 0 end) as resolutions_due,
        sum(case when is_resolution_due and is_resolved_within_sla then 1 else 0 end) as resolved_within_sla,
        count(satisfaction) as tickets_rated,
        avg(satisfaction) as avg_satisfaction,
        sum(case when is_satisfied then 1 else 0 end) as tickets_satisfied,
        max(response_sla_hours) as response_sla_hours,
        max(resolution_sla_hours) as resolution_sla_hours
    from lifecycle
    group by
        community_code,
        received_week_start,
        category_code

),

final as (

    select
        {{ community_hierarchy_columns('weekly.community_code') }},
        cast(weekly.received_week_start as date) as week_start,
        weekly.category_code,
        {{ dbt.cast('weekly.tickets_received', dbt.type_bigint()) }} as tickets_received,
        {{ dbt.cast('weekly.tickets_responded', dbt.type_bigint()) }} as tickets_responded,
        {{ dbt.cast('weekly.tickets_resolved', dbt.type_bigint()) }} as tickets_resolved,
        {{ round_float('weekly.median_hours_to_respond', 1) }} as median_hours_to_respond,
        {{ round_float('weekly.median_hours_to_resolve', 1) }} as median_hours_to_resolve,
        {{ dbt.cast('weekly.response_sla_hours', dbt.type_int()) }} as response_sla_hours,
        {{ dbt.cast('weekly.responses_due', dbt.type_bigint()) }} as responses_due,
        {{ dbt.cast('weekly.responded_within_sla', dbt.type_bigint()) }} as responded_within_sla,
        {{ safe_ratio('weekly.responded_within_sla', 'weekly.responses_due') }} as share_responded_within_sla,
        {{ dbt.cast('weekly.resolution_sla_hours', dbt.type_int()) }} as resolution_sla_hours,
        {{ dbt.cast('weekly.resolutions_due', dbt.type_bigint()) }} as resolutions_due,
        {{ dbt.cast('weekly.resolved_within_sla', dbt.type_bigint()) }} as resolved_within_sla,
        {{ safe_ratio('weekly.resolved_within_sla', 'weekly.resolutions_due') }} as share_resolved_within_sla,
        {{ dbt.cast('weekly.tickets_rated', dbt.type_bigint()) }} as tickets_rated,
        {{ round_float('weekly.avg_satisfaction', 2) }} as avg_satisfaction,
        {{ dbt.cast('weekly.tickets_satisfied', dbt.type_bigint()) }} as tickets_satisfied,
        {{ safe_ratio('weekly.tickets_satisfied', 'weekly.tickets_rated') }} as share_satisfied,
        false as has_withheld_values
    from weekly
    left join communities
        on weekly.community_code = communities.community_code

)

select * from final
