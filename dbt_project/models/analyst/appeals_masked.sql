{#- Row-level view of appeal tickets for analysts, generated from the column classification of
    stg_appeals (masked_select): no reporter pseudonym, timestamps generalized to dates, the
    description shown as redacted at the door. -#}
{{ masked_select('stg_appeals') }}
