{#- Analyst-facing population profile: present residents per community, age band, sex and residence
    type. Cells under var('k_person') are suppressed, and complementary suppression withholds more
    cells so that none can be recovered from a community's total or from an age-sex-residence cell's
    total across the communities of a street (complementary_suppression macro). -#}
{%- set k = var('k_person') -%}

with

cell_counts as (

    select * from {{ ref('int_population_profile_counts') }}

),

communities as (

    select * from {{ ref('int_communities') }}

),

located as (

    select
        communities.district_code,
        communities.district_name,
        communities.street_code,
        communities.street_name,
        cell_counts.community_code,
        communities.community_name,
        cell_counts.snapshot_date,
        cell_counts.age_band,
        cell_counts.sex,
        cell_counts.residence_type,
        cell_counts.resident_count,
        cell_counts.household_count
    from cell_counts
    left join communities
        on cell_counts.community_code = communities.community_code

),

suppressed as (

    {{ complementary_suppression(
        relation='located',
        keys=['community_code', 'snapshot_date', 'age_band', 'sex', 'residence_type'],
        count_column='resident_count',
        k=k,
        groupings=[
            ['community_code', 'snapshot_date'],
            ['street_code', 'snapshot_date', 'age_band', 'sex', 'residence_type'],
        ],
        carry=['district_code', 'district_name', 'street_code', 'street_name', 'community_name', 'household_count']
    ) }}

),

final as (

    select
        {{ dbt.cast('suppressed.district_code', dbt.type_string()) }} as district_code,
        {{ dbt.cast('suppressed.district_name', dbt.type_string()) }} as district_name,
        {{ dbt.cast('suppressed.street_code', dbt.type_string()) }} as street_code,
        {{ dbt.cast('suppressed.street_name', dbt.type_string()) }} as street_name,
        {{ dbt.cast('suppressed.community_code', dbt.type_string()) }} as community_code,
        {{ dbt.cast('suppressed.community_name', dbt.type_string()) }} as community_name,
        cast(suppressed.snapshot_date as date) as snapshot_date,
        {{ dbt.cast('suppressed.age_band', dbt.type_string()) }} as age_band,
        {{ dbt.cast('suppressed.sex', dbt.type_string()) }} as sex,
        {{ dbt.cast('suppressed.residence_type', dbt.type_string()) }} as residence_type,
        {{ dbt.cast('suppressed.resident_count', dbt.type_bigint()) }} as resident_count,
        {{ dbt.cast(
            'case when suppressed.is_suppressed then null else '
            ~ suppress_small_cells('suppressed.household_count', k) ~ ' end',
            dbt.type_bigint()) }} as household_count,
        suppressed.is_suppressed,
        suppressed.is_suppressed
        or {{ is_small_cell('suppressed.household_count', k) }} as is_household_count_suppressed,
        {{ dbt.cast('suppressed.suppression_reason', dbt.type_string()) }} as suppression_reason
    from suppressed

)

select * from final
