{#- Residence history of every resident in the register: a new version whenever the community, grid,
    register status or residence type changes between daily snapshots. Versions are dated by the
    register snapshot that first showed them (`snapshot_at`); a resident dropped from the register is
    closed (hard deletes invalidate). Only the residence columns are kept (minimum necessary). -#}
{% snapshot snap_population_residence %}

{{ config(
    unique_key='resident_pid',
    strategy='check',
    check_cols=['community_code', 'grid_code', 'status', 'residence_type'],
    updated_at='snapshot_at',
    hard_deletes='invalidate',
    tags=['person_level']
) }}

with

{{ import_ctes({'residents': ref('stg_population_registry')}) }}

final as (

    select
        resident_pid,
        community_code,
        grid_code,
        status,
        residence_type,
        snapshot_date,
        cast(snapshot_date as {{ dbt.type_timestamp() }}) as snapshot_at
    from residents

)

select * from final

{% endsnapshot %}
