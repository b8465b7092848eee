{#- The latest version of each key of an incrementally loaded source, one row per key: the version
    with the latest `version_column` (nulls last), then the one of the batch loaded last, then the
    later file row. Adds `version_rank` (always 1 here) and `version_count`, the number of versions
    of the key seen. `relation` is the CTE of renamed source rows (it must carry _loaded_at and
    _source_row). -#}
{% macro latest_version(relation, key, version_column) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by {{ version_column }} desc nulls last, _loaded_at desc, _source_row desc
            ) as version_rank,
            {#- count(*) is a bigint; the models expose an integer. #}
            {{ dbt.cast('count(*) over (partition by ' ~ key ~ ')', dbt.type_int()) }} as version_count
        from {{ relation }}
    ) as versions
    where version_rank = 1
{%- endmacro %}
