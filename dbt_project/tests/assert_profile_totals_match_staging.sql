{#- The population profile must account for every present resident, suppress every cell under k as
    a small cell and no other cell as one (complementary suppressions are checked by the
    complementary_suppression data test). Returns one row per violation:
      total_mismatch      present residents in staging <> sum of the exact cell counts
      cell_missing        a cell in the exact counts has no row in the profile (or the reverse)
      wrong_suppression   (reason small_cell) disagrees with (exact count < k), or is_suppressed
                          disagrees with having a reason
      count_mismatch      a published count differs from the exact count
      count_leaked        a suppressed cell still shows a count -#}
{%- set k = var('k_person') | int -%}

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
        profile.is_suppressed,
        coalesce(profile.suppression_reason = 'small_cell', false) as is_small_cell,
        profile.suppression_reason is not null as has_reason,
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
            when
                is_small_cell <> (exact_count < {{ k }})
                or is_suppressed <> has_reason
                then 'wrong_suppression'
            when is_suppressed and published_count is not null then 'count_leaked'
            else 'count_mismatch'
        end as violation,
        community_code,
        age_band,
        sex,
        residence_type
    from paired
    where
        is_unpaired
        or is_small_cell <> (exact_count < {{ k }})
        or is_suppressed <> has_reason
        or (is_suppressed and published_count is not null)
        or (not is_suppressed and published_count is distinct from exact_count)

),

final as (

    select * from total_check
    union all
    select * from cell_check

)

select * from final
