{#- Register against signal, community by community: present residents in the latest register snapshot
    against the devices the carriers classify as `resident` in the community's grids at night
    (distinct per night, averaged over the complete nights delivered). Aggregate to aggregate: it joins
    two community-level aggregates (int_population_profile_counts and int_telecom_night_presence) and
    never a device or a person row. Exact values (a candidate): the release withholds small counts and
    averages and the ratio with them (community_dw.disclosure). -#}

with

{{ import_ctes({
    'profile_counts': ref('int_population_profile_counts'),
    'night_presence': ref('int_telecom_night_presence'),
    'communities': ref('int_communities'),
}) }}

registered as (

    select
        community_code,
        max(snapshot_date) as snapshot_date,
        sum(resident_count) as registered_residents
    from profile_counts
    group by community_code

),

nightly as (

    select
        community_code,
        count(*) as nights_observed,
        min(night_date) as first_night,
        max(night_date) as last_night,
        avg(resident_devices) as avg_night_resident_devices
    from night_presence
    where is_complete_night
    group by community_code

),

joined as (

    select
        registered.snapshot_date,
        nightly.first_night,
        nightly.last_night,
        coalesce(registered.community_code, nightly.community_code) as community_code,
        coalesce(registered.registered_residents, 0) as registered_residents,
        coalesce(nightly.nights_observed, 0) as nights_observed,
        coalesce(nightly.avg_night_resident_devices, 0) as avg_night_resident_devices
    from registered
    full outer join nightly
        on registered.community_code = nightly.community_code

),

final as (

    select
        {{ community_hierarchy_columns('flagged.community_code') }},
        cast(flagged.snapshot_date as date) as snapshot_date,
        {{ dbt.cast('flagged.registered_residents', dbt.type_bigint()) }} as registered_residents,
        {{ dbt.cast('flagged.nights_observed', dbt.type_int()) }} as nights_observed,
        cast(flagged.first_night as date) as first_night,
        cast(flagged.last_night as date) as last_night,
        {{ round_float('flagged.avg_night_resident_devices', 1) }} as avg_night_resident_devices,
        {{ safe_ratio('flagged.avg_night_resident_devices', 'flagged.registered_residents', 3) }}
            as devices_per_registered_resident,
        false as is_suppressed,
        false as is_device_count_suppressed
    from joined as flagged
    left join communities
        on flagged.community_code = communities.community_code

)

select * from final
