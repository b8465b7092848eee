{#- Candidate of the analyst's row-level view of appeals: one row per ticket with its redacted
    description, its area and period at every level of their ladders, and its category. The release
    step (community_dw.disclosure) publishes one level per ladder, chosen by the data so that every
    equivalence class holds at least k tickets, and withholds the rows of smaller classes. -#}
with

{{ import_ctes({
    'tickets': ref('int_appeal_tickets'),
    'appeals': ref('stg_appeals'),
}) }}

final as (

    select
        tickets.community_code,
        tickets.street_code,
        tickets.district_code,
        tickets.received_week_start,
        tickets.received_month_start,
        tickets.received_quarter_start,
        tickets.category_code,
        appeals.description
    from tickets
    inner join appeals
        on tickets.ticket_id = appeals.ticket_id

)

select * from final
