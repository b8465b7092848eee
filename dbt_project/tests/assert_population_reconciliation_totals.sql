{#- Population reconciliation (a candidate with exact values) must show, for every community, the
    present residents of the register, counted here straight from staging (the mart sums
    int_population_profile_counts), and the complete nights with their average of night-time resident
    devices, here as a total over a count (the mart averages). Returns one row per violation, also for
    a community with present residents or a complete night that the mart lacks. -#}

with

{{ import_ctes({
    'residents': ref('stg_population_registry'),
    'night_presence': ref('int_telecom_night_presence'),
    'reconciliation': ref('population_reconciliation'),
}) }}

per_source as (

    {#- One row per community and source, added up below: residents from the register, complete nights
        and their device total from the night presence. #}
    select
        community_code,
        count(*) as present_residents,
        0 as complete_nights,
        0 as night_device_total
    from residents
    where is_present
    group by community_code

    union all

    select
        community_code,
        0 as present_residents,
        sum(case when is_complete_night then 1 else 0 end) as complete_nights,
        sum(case when is_complete_night then resident_devices else 0 end) as night_device_total
    from night_presence
    group by community_code

),

exact as (

    select
        community_code,
        sum(present_residents) as present_residents,
        sum(complete_nights) as complete_nights,
        sum(night_device_total) as night_device_total
    from per_source
    group by community_code
    having sum(present_residents) > 0 or sum(complete_nights) > 0

),

final as (

    select
        exact.community_code,
        case
            when reconciliation.community_code is null then 'community_missing'
            when reconciliation.nights_observed <> exact.complete_nights then 'nights_mismatch'
            when reconciliation.registered_residents <> exact.present_residents then 'residents_mismatch'
            else 'devices_mismatch'
        end as violation
    from exact
    left join reconciliation
        on exact.community_code = reconciliation.community_code
    where
        reconciliation.community_code is null
        or reconciliation.nights_observed <> exact.complete_nights
        or reconciliation.registered_residents <> exact.present_residents
        {#- The mart publishes the average to one decimal: compared with the exact one rounded the same
            way (a tolerance of 0.05 failed on every exact .x5, e.g. 11,727 devices over 4 nights). #}
        or abs(
            reconciliation.avg_night_resident_devices
            - {{ round_float(
                'coalesce(1.0 * exact.night_device_total / nullif(exact.complete_nights, 0), 0)', 1
            ) }}
        ) > 0.001

)

select * from final
