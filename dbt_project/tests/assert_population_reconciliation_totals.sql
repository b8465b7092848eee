{#- Population reconciliation (a candidate with exact values) must show, for every community, exactly
    the present residents of the register profile counts and the average of the complete nights of
    night-time resident devices. Returns one row per violation. -#}

with

profile_counts as (

    select * from {{ ref('int_population_profile_counts') }}

),

night_presence as (

    select * from {{ ref('int_telecom_night_presence') }}

),

reconciliation as (

    select * from {{ ref('population_reconciliation') }}

),

registered as (

    select
        community_code,
        sum(resident_count) as registered_residents
    from profile_counts
    group by community_code

),

nightly as (

    select
        community_code,
        count(*) as nights,
        avg(resident_devices) as avg_devices
    from night_presence
    where is_complete_night
    group by community_code

),

checked as (

    select
        reconciliation.community_code,
        reconciliation.registered_residents as published_residents,
        reconciliation.nights_observed,
        reconciliation.avg_night_resident_devices as published_devices,
        nightly.avg_devices as exact_devices,
        coalesce(registered.registered_residents, 0) as exact_residents,
        coalesce(nightly.nights, 0) as exact_nights
    from reconciliation
    left join registered
        on reconciliation.community_code = registered.community_code
    left join nightly
        on reconciliation.community_code = nightly.community_code

),

final as (

    select
        community_code,
        case
            when nights_observed <> exact_nights then 'nights_mismatch'
            when abs(published_devices - exact_devices) > 0.05 then 'devices_mismatch'
            else 'residents_mismatch'
        end as violation
    from checked
    where
        nights_observed <> exact_nights
        or abs(published_devices - exact_devices) > 0.05
        or published_residents <> exact_residents

)

select * from final
