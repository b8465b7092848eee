{#- Analyst-facing population profile: present residents per community, age band, sex and residence
    type, with exact counts (a candidate: the release step withholds small and complementary cells and
    sets the flags; see community_dw.disclosure). -#}
with

{{ import_ctes({
    'cell_counts': ref('int_population_profile_counts'),
    'communities': ref('int_communities'),
}) }}

final as (

    select
        {{ community_hierarchy_columns('cell_counts.community_code') }},
        cast(cell_counts.snapshot_date as date) as snapshot_date,
        cell_counts.age_band,
        cell_counts.sex,
        cell_counts.residence_type,
        {{ dbt.cast('cell_counts.resident_count', dbt.type_bigint()) }} as resident_count,
        {{ dbt.cast('cell_counts.household_count', dbt.type_bigint()) }} as household_count,
        false as is_suppressed,
        false as is_household_count_suppressed
    from cell_counts
    left join communities
        on cell_counts.community_code = communities.community_code

)

select * from final
