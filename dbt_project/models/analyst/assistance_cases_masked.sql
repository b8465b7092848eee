{#- Row-level view of civil-affairs assistance cases for analysts, generated from the column
    classification of stg_civil_affairs_assistance (masked_select): no beneficiary pseudonym, no
    amount, start and end dates generalized to months. -#}
{{ masked_select('stg_civil_affairs_assistance') }}
