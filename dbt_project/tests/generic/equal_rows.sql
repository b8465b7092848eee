{#- Fails for every row, over the given columns, that one relation holds more often than the other (a
    multiset comparison, nulls equal): a mart that relabels an exact intermediate model must neither
    lose, add nor change a row of it. A local stand-in for dbt_utils' `equality`. -#}
{% test equal_rows(model, compare_model, compare_columns) %}

{%- set column_list = compare_columns | join(', ') %}

with

model_rows as (

    select {{ column_list }} from {{ model }}

),

compare_rows as (

    select {{ column_list }} from {{ compare_model }}

),

only_in_model as (

    select * from model_rows
    except all
    select * from compare_rows

),

only_in_compare as (

    select * from compare_rows
    except all
    select * from model_rows

),

final as (

    select
        *,
        'only_in_model' as difference
    from only_in_model
    union all
    select
        *,
        'only_in_compare_model' as difference
    from only_in_compare

)

select * from final

{% endtest %}
