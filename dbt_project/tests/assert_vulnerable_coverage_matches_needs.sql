{#- Care coverage (a candidate with exact values; the release withholds cells) must count every
    resident in need once per group. Returns one row per violation:
      need_mismatch       exact people_in_need <> distinct residents of the group in int_vulnerable_needs
      served_exceeds_need more people served than in need
      cell_missing        an exact cell has no row in the mart (or the reverse)
      count_mismatch      a count or rate differs from the exact one -#}

with

needs as (

    select * from {{ ref('int_vulnerable_needs') }}

),

exact as (

    select * from {{ ref('int_vulnerable_coverage_counts') }}

),

coverage as (

    select * from {{ ref('vulnerable_care_coverage') }}

),

recounted as (

    select
        community_code,
        need_group,
        count(distinct resident_pid) as people_in_need
    from needs
    group by
        community_code,
        need_group

),

need_check as (

    select
        coalesce(exact.community_code, recounted.community_code) as community_code,
        coalesce(exact.need_group, recounted.need_group) as need_group,
        'need_mismatch' as violation
    from exact
    full outer join recounted
        on
            exact.community_code = recounted.community_code
            and exact.need_group = recounted.need_group
    where exact.people_in_need is distinct from recounted.people_in_need

),

served_check as (

    select
        community_code,
        need_group,
        'served_exceeds_need' as violation
    from exact
    where people_served > people_in_need

),

paired as (

    select
        exact.people_in_need as exact_need,
        exact.people_served as exact_served,
        coverage.people_in_need as published_need,
        coverage.people_served as published_served,
        coverage.coverage_rate,
        coalesce(exact.community_code, coverage.community_code) as community_code,
        coalesce(exact.need_group, coverage.need_group) as need_group,
        exact.community_code is null or coverage.community_code is null as is_unpaired
    from exact
    full outer join coverage
        on
            exact.community_code = coverage.community_code
            and exact.need_group = coverage.need_group
            and exact.as_of_date = coverage.as_of_date

),

cell_check as (

    select
        community_code,
        need_group,
        case
            when is_unpaired then 'cell_missing'
            else 'count_mismatch'
        end as violation
    from paired
    where
        is_unpaired
        or published_need <> exact_need
        or published_served <> exact_served
        or abs(coverage_rate - 1.0 * exact_served / exact_need) > 0.0001

),

final as (

    select * from need_check
    union all
    select * from served_check
    union all
    select * from cell_check

)

select * from final
