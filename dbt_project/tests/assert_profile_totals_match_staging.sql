{#- The population profile (a candidate with exact counts; the release step withholds cells) must
    account for every present resident of the register, community by community: present residents
    counted here straight from staging against the sum of the profile's cells. (That the cells are
    exactly int_population_profile_counts' is the profile's `equal_rows` test.) Returns one row per
    community whose two totals differ, or that only one side has. -#}

with

{{ import_ctes({
    'residents': ref('stg_population_registry'),
    'profile': ref('community_population_profile'),
}) }}

registered as (

    select
        community_code,
        count(*) as present_residents
    from residents
    where is_present
    group by community_code

),

profiled as (

    select
        community_code,
        sum(resident_count) as profiled_residents
    from profile
    group by community_code

),

final as (

    select
        registered.present_residents,
        profiled.profiled_residents,
        coalesce(registered.community_code, profiled.community_code) as community_code
    from registered
    full outer join profiled
        on registered.community_code = profiled.community_code
    where registered.present_residents is distinct from profiled.profiled_residents

)

select * from final
