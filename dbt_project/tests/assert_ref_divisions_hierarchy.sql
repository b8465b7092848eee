{#- The reference geography must be a clean hierarchy, because models join on it: each code starts with
    its parent's code, and each community, street and district code has exactly one name and parent
    (otherwise joins at community level would fan out). Returns one row per violation. -#}
with

{{ import_ctes({'divisions': ref('ref_divisions')}) }}

prefix_check as (

    select
        grid_code as code,
        'code does not start with its parent code' as violation
    from divisions
    where
        substr(street_code, 1, {{ dbt.length('district_code') }}) <> district_code
        or substr(community_code, 1, {{ dbt.length('street_code') }}) <> street_code
        or substr(grid_code, 1, {{ dbt.length('community_code') }}) <> community_code

),

community_check as (

    select
        community_code as code,
        'community has more than one name or parent' as violation
    from divisions
    group by community_code
    having
        count(distinct community_name) > 1
        or count(distinct street_code) > 1
        or count(distinct street_name) > 1
        or count(distinct district_code) > 1
        or count(distinct district_name) > 1

),

street_check as (

    select
        street_code as code,
        'street has more than one name or district' as violation
    from divisions
    group by street_code
    having count(distinct street_name) > 1 or count(distinct district_code) > 1

),

final as (

    select * from prefix_check
    union all
    select * from community_check
    union all
    select * from street_check

)

select * from final
