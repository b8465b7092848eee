{#- Small-cell suppression with complementary suppression, for analyst-facing aggregates (marts).

    Use it as the body of a CTE over a CTE or relation of exact cell counts (one row per cell):

        suppressed as (
            {{ complementary_suppression(
                relation='cell_counts',
                keys=['community_code', 'age_band', 'sex'],
                count_column='resident_count',
                k=var('k_person'),
                groupings=[['community_code'], ['age_band', 'sex']],
                carry=['household_count']) }}
        ),

    It returns the key columns, the `carry` columns unchanged, the count (null when withheld), and
      is_suppressed       true when the count is withheld
      suppression_reason  'small_cell' (count under k: primary), 'complementary' (withheld so that a
                          small cell cannot be recovered from a total), or null.

    Primary suppression withholds every count under k (var k_person = 11 for people, k_device = 20 for
    devices; count distinct people or devices). Complementary suppression: `groupings` lists the totals
    an analyst may know (each a list of columns; a group is one value of them, e.g. a community's total,
    or an age-sex cell's total across communities). A group with exactly one withheld cell would give
    that cell away by subtraction, so the smallest published cell of the group (ties by key) is withheld
    too; a cell alone in a group of another grouping is chosen last, as its own total gives it away.
    One pass visits every grouping in turn; `passes` passes are unrolled (withholding a cell in one
    grouping can leave another group with a single withheld cell). The data test
    `complementary_suppression` proves that no group is left with exactly one withheld cell.

    A group of a single cell cannot be protected inside the table: its total is the cell itself, so
    that total must be suppressed wherever it is published (it is under k too).

    Limits: this is the classic row/column heuristic. It defeats subtraction within any one group; it
    is not a full audit against every linear combination of totals (a withheld cell can still be
    determined when it is the only link between an otherwise determined part of the table and a total
    that is not published). tests/test_privacy.py audits the population profile of its fixture with a
    rank test; on random tables (k = 5, 2-6 communities) 6 of 300 left such a cell. -#}

{% macro complementary_suppression(relation, keys, count_column, k, groupings, carry=[], passes=3) -%}
    {%- set columns = keys + carry -%}
    {%- set order_keys = keys | join(', ') -%}
    {%- set steps = [] -%}
    {%- for pass_number in range(1, passes + 1) -%}
        {%- for grouping in groupings -%}
            {%- do steps.append({'name': 'suppression_pass_' ~ pass_number ~ '_' ~ loop.index,
                'partition': grouping | join(', ')}) -%}
        {%- endfor -%}
    {%- endfor %}
    with

    suppression_pass_0 as (

        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            {{ count_column }} as cell_count,
            {{ is_small_cell(count_column, k) }} as is_primary,
            {{ is_small_cell(count_column, k) }} as is_withheld,
            (
                {%- for grouping in groupings %}
                {{ 'or ' if not loop.first }}count(*) over (partition by {{ grouping | join(', ') }}) = 1
                {%- endfor %}
            ) as is_alone_in_a_group
        from {{ relation }}

    ),

    {%- for step in steps %}

    {{ step.name }} as (

        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            cell_count,
            is_primary,
            is_alone_in_a_group,
            is_withheld
            or (
                withheld_in_group = 1
                and cells_in_group > 1
                and rank_in_state = 1
            ) as is_withheld
        from (
            select
                {%- for column in columns %}
                {{ column }},
                {%- endfor %}
                cell_count,
                is_primary,
                is_alone_in_a_group,
                is_withheld,
                sum(case when is_withheld then 1 else 0 end) over (partition by {{ step.partition }})
                    as withheld_in_group,
                count(*) over (partition by {{ step.partition }}) as cells_in_group,
                row_number() over (
                    partition by {{ step.partition }}, is_withheld
                    order by case when is_alone_in_a_group then 1 else 0 end, cell_count, {{ order_keys }}
                ) as rank_in_state
            from {{ loop.previtem.name if not loop.first else 'suppression_pass_0' }}
        ) as ranked

    ),
    {%- endfor %}

    suppression_final as (

        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            case when is_withheld then null else cell_count end as {{ count_column }},
            is_withheld as is_suppressed,
            case
                when is_primary then 'small_cell'
                when is_withheld then 'complementary'
            end as suppression_reason
        from {{ (steps | last).name if steps else 'suppression_pass_0' }}

    )

    select * from suppression_final
{%- endmacro %}
