{#- Row-level view of the population register for analysts, generated from the column classification
    of stg_population_registry (masked_select): no pseudonyms, special-group flags withheld, birth date
    and exact age as the age band, move-in date as its month, community instead of grid. -#}
{{ masked_select('stg_population_registry') }}
