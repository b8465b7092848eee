{#- One row per community with its street and district names: the geography every community-level
    mart labels its rows with, derived once from the ref_divisions seed (which has one row per grid). -#}
with

{{ import_ctes({'divisions': ref('ref_divisions')}) }}

final as (

    select distinct
        district_code,
        district_name,
        street_code,
        street_name,
        community_code,
        community_name
    from divisions

)

select * from final
