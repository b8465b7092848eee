{#- Analyst-facing population profile: present residents per community, age band, sex and residence
    type, with exact counts (a candidate: the release step withholds small and complementary cells and
    sets the flags; see community_dw.disclosure). -#}
with

cell_counts as (

    select * from {{ ref('int_population_profile_counts') }}

),

communities as (

    select * from {{ ref('int_communities') }}

),

final as (

    select
        {{ dbt.cast('communities.district_code', dbt.type_string()) }} as district_code,
        {{ dbt.cast('communities.district_name', dbt.type_string()) }} as district_name,
        {{ dbt.cast('communities.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('communities.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('cell_counts.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('communities.community_name', dbt.type_string()) }} as community_name,
        cast(cell_counts.snapshot_date as date) as snapshot_date,
        {{ dbt.cast('cell_counts.age_band', dbt.type_string()) }} as age_band,
        {{ dbt.cast('cell_counts.sex', dbt.type_string()) }} as sex,
        {{ dbt.cast('cell_counts.residence_type', dbt.type_string()) }} as residence_type,
        {{ dbt.cast('cell_counts.resident_count', dbt.type_bigint()) }} as resident_count,
        {{ dbt.cast('cell_counts.household_count', dbt.type_bigint()) }} as household_count,
        false as is_suppressed,
        false as is_household_count_suppressed
    from cell_counts
    left join communities
        on cell_counts.community_code = communities.community_code

)

select * from final
