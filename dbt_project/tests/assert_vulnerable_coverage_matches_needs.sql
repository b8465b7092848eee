{#- Care coverage (a candidate with exact values; the release withholds cells) must count every
    resident in need once per group. Returns one row per violation:
      need_mismatch       exact people_in_need <> distinct residents of the group in int_vulnerable_needs
      served_exceeds_need more people served than in need
      rate_mismatch       the published coverage rate is not people_served / people_in_need
    (That the mart's cells are exactly int_vulnerable_coverage_counts' is the mart's `equal_rows` test.) -#}

with

{{ import_ctes({
    'needs': ref('int_vulnerable_needs'),
    'exact': ref('int_vulnerable_coverage_counts'),
    'coverage': ref('vulnerable_care_coverage'),
}) }}

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

rate_check as (

    select
        community_code,
        need_group,
        'rate_mismatch' as violation
    from coverage
    where abs(coverage_rate - 1.0 * people_served / people_in_need) > 0.0001

),

final as (

    select * from need_check
    union all
    select * from served_check
    union all
    select * from rate_check

)

select * from final
