{#- Appeals performance must account for every ticket once and keep its rates in range. Returns one
    row per violation:
      total_mismatch    tickets received over all cells <> tickets in staging (same for responded, resolved)
      count_order       a cell with more responded, resolved or due tickets than received
      share_range       a share outside 0-1, or an average rating outside 1-5 -#}
with

{{ import_ctes({
    'tickets': ref('stg_appeals'),
    'performance': ref('appeals_performance'),
}) }}

staging_totals as (

    select
        count(*) as received,
        count(responded_at) as responded,
        count(resolved_at) as resolved
    from tickets

),

mart_totals as (

    select
        coalesce(sum(tickets_received), 0) as received,
        coalesce(sum(tickets_responded), 0) as responded,
        coalesce(sum(tickets_resolved), 0) as resolved
    from performance

),

total_check as (

    select
        {{ dbt.cast('null', dbt.type_string()) }} as community_code,
        cast(null as date) as week_start,
        {{ dbt.cast('null', dbt.type_string()) }} as category_code,
        'total_mismatch' as violation
    from staging_totals
    cross join mart_totals
    where
        staging_totals.received <> mart_totals.received
        or staging_totals.responded <> mart_totals.responded
        or staging_totals.resolved <> mart_totals.resolved

),

cell_check as (

    select
        community_code,
        week_start,
        category_code,
        case
            when
                tickets_responded > tickets_received
                or tickets_resolved > tickets_received
                or responses_due > tickets_received
                or resolutions_due > tickets_received
                or tickets_rated > tickets_received
                then 'count_order'
            else 'share_range'
        end as violation
    from performance
    where
        tickets_responded > tickets_received
        or tickets_resolved > tickets_received
        or responses_due > tickets_received
        or resolutions_due > tickets_received
        or tickets_rated > tickets_received
        or share_responded_within_sla not between 0 and 1
        or share_resolved_within_sla not between 0 and 1
        or share_satisfied not between 0 and 1
        or avg_satisfaction not between 1 and 5

),

final as (

    select * from total_check
    union all
    select * from cell_check

)

select * from final
