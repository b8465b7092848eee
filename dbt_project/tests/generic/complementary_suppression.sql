{#- Fails for every group (one value of each grouping's columns) that has exactly one withheld cell
    among several: that cell could be recovered by subtracting the published cells from the group's
    total. Also fails for every published count under k. Pairs with the complementary_suppression macro. -#}
{% test complementary_suppression(model, groupings, count_column, k, suppressed_column='is_suppressed') %}

with

cells as (

    select * from {{ model }}

),

{%- for grouping in groupings %}

grouping_{{ loop.index }} as (

    select
        '{{ grouping | join(", ") }}' as grouping_columns,
        {%- set parts = [] -%}
        {%- for column in grouping -%}
            {%- do parts.append('coalesce(' ~ dbt.cast(column, dbt.type_string()) ~ ", '')") -%}
            {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
        {%- endfor %}
        {{ dbt.concat(parts) if parts | length > 1 else parts[0] }} as group_key,
        count(*) as cells_in_group,
        sum(case when {{ suppressed_column }} then 1 else 0 end) as withheld_in_group
    from cells
    group by {{ grouping | join(', ') }}
    having
        count(*) > 1
        and sum(case when {{ suppressed_column }} then 1 else 0 end) = 1

),
{%- endfor %}

published_small as (

    select
        'published count under k' as grouping_columns,
        {{ dbt.cast(count_column, dbt.type_string()) }} as group_key,
        1 as cells_in_group,
        0 as withheld_in_group
    from cells
    where not {{ suppressed_column }} and {{ count_column }} < {{ k | int }}

),

failures as (

    {%- for grouping in groupings %}
    select * from grouping_{{ loop.index }}
    union all
    {%- endfor %}
    select * from published_small

)

select * from failures

{% endtest %}
