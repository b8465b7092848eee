{#- The population profile (a candidate with exact counts; the release step withholds cells) must
    account for every present resident, cell by cell. Returns one row per violation:
      total_mismatch      present residents in staging <> sum of the exact cell counts
      cell_missing        a cell in the exact counts has no row in the profile (or the reverse)
      count_mismatch      a count differs from the exact count -#}

with

residents as (

    select * from {{ ref('stg_population_registry') }}

),

cell_counts as (

    select * from {{ ref('int_population_profile_counts') }}

),

profile as (

    select * from {{ ref('community_population_profile') }}

),

staging_total as (

    select count(*) as n_present
    from residents
    where is_present

),

cells_total as (

    select coalesce(sum(resident_count), 0) as n_counted
    from cell_counts

),

total_check as (

    select
        staging_total.n_present as expected_count,
        cells_total.n_counted as observed_count,
        'total_mismatch' as violation,
        {{ dbt.cast('null', dbt.type_string()) }} as community_code,
        {{ dbt.cast('null', dbt.type_string()) }} as age_band,
        {{ dbt.cast('null', dbt.type_string()) }} as sex,
        {{ dbt.cast('null', dbt.type_string()) }} as residence_type
    from staging_total
    cross join cells_total
    where staging_total.n_present <> cells_total.n_counted

),

paired as (

    select
        cell_counts.resident_count as exact_count,
        profile.resident_count as published_count,
        coalesce(cell_counts.community_code, profile.community_code) as community_code,
        coalesce(cell_counts.age_band, profile.age_band) as age_band,
        coalesce(cell_counts.sex, profile.sex) as sex,
        coalesce(cell_counts.residence_type, profile.residence_type) as residence_type,
        cell_counts.community_code is null or profile.community_code is null as is_unpaired
    from cell_counts
    full outer join profile
        on
            cell_counts.community_code = profile.community_code
            and cell_counts.snapshot_date = profile.snapshot_date
            and cell_counts.age_band = profile.age_band
            and cell_counts.sex = profile.sex
            and cell_counts.residence_type = profile.residence_type

),

cell_check as (

    select
        exact_count as expected_count,
        published_count as observed_count,
        case
            when is_unpaired then 'cell_missing'
            else 'count_mismatch'
        end as violation,
        community_code,
        age_band,
        sex,
        residence_type
    from paired
    where
        is_unpaired
        or published_count is distinct from exact_count

),

final as (

    select * from total_check
    union all
    select * from cell_check

)

select * from final
