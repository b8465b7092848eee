{#- Analyst-facing population profile: present residents per community, age band, sex and residence
    type, with small cells (under var('k_person')) suppressed. -#}
{%- set k = var('k_person') -%}

with

cell_counts as (

    select * from {{ ref('int_population_profile_counts') }}

),

divisions as (

    select * from {{ ref('ref_divisions') }}

),

communities as (

    select distinct
        district_code,
        district_name,
        street_code,
        street_name,
        community_code,
        community_name
    from divisions

),

suppressed as (

    select
        cell_counts.community_code,
        cell_counts.snapshot_date,
        cell_counts.age_band,
        cell_counts.sex,
        cell_counts.residence_type,
        {{ suppress_small_cells('cell_counts.resident_count', k) }} as resident_count,
        {{ suppress_small_cells('cell_counts.household_count', k) }} as household_count,
        {{ is_small_cell('cell_counts.resident_count', k) }} as is_suppressed,
        {{ is_small_cell('cell_counts.household_count', k) }} as is_household_count_suppressed
    from cell_counts

),

final as (

    select
        {{ dbt.cast('communities.district_code', dbt.type_string()) }} as district_code,
        {{ dbt.cast('communities.district_name', dbt.type_string()) }} as district_name,
        {{ dbt.cast('communities.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('communities.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('suppressed.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('communities.community_name', dbt.type_string()) }} as community_name,
        cast(suppressed.snapshot_date as date) as snapshot_date,
        {{ dbt.cast('suppressed.age_band', dbt.type_string()) }} as age_band,
        {{ dbt.cast('suppressed.sex', dbt.type_string()) }} as sex,
        {{ dbt.cast('suppressed.residence_type', dbt.type_string()) }} as residence_type,
        {{ dbt.cast('suppressed.resident_count', dbt.type_bigint()) }} as resident_count,
        {{ dbt.cast('suppressed.household_count', dbt.type_bigint()) }} as household_count,
        suppressed.is_suppressed,
        suppressed.is_household_count_suppressed
    from suppressed
    left join communities
        on suppressed.community_code = communities.community_code

)

select * from final
