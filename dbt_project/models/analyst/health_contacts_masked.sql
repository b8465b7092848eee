{#- Row-level view of health-service contacts for analysts, generated from the column classification
    of stg_health_services (masked_select): no resident pseudonym, the contact date generalized to its
    month and the recording time to its date. -#}
{{ masked_select('stg_health_services') }}
