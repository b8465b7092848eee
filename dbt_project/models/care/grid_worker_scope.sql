{#- The communities of the querying role, from the grid-worker mapping: what the row-level security
    policies of the care tables compare against. A view, so it reads the mapping with its owner's
    rights while `current_user` stays the querying role; made a security barrier on PostgreSQL by the
    community_rls post-hook. On DuckDB (no roles) it is empty. -#}
{{ config(materialized='view', meta={'access_scope': true}) }}

with

{{ import_ctes({'mapping': ref('grid_worker_communities')}) }}

final as (

    select distinct mapping.community_code
    from mapping
    where mapping.login = current_user

)

select * from final
