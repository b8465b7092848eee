{#- Exact (unsuppressed) counts of present residents at the grain of community_population_profile.
    Engineers only: small cells are still visible here. -#}
with

{{ import_ctes({'residents': ref('stg_population_registry')}) }}

final as (

    select
        community_code,
        snapshot_date,
        age_band,
        sex,
        residence_type,
        {{ dbt.cast('count(*)', dbt.type_bigint()) }} as resident_count,
        {{ dbt.cast('count(distinct household_pid)', dbt.type_bigint()) }} as household_count
    from residents
    where is_present
    group by
        community_code,
        snapshot_date,
        age_band,
        sex,
        residence_type

)

select * from final
