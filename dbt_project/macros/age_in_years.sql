{#- Completed years between a birth date and a reference date (the age on that date). A birthday on
    29 February counts as reached on 1 March in common years. Portable: dbt.datediff counts year
    boundaries on every adapter; the correction subtracts one while the birthday is still ahead. -#}
{% macro age_in_years(birth_date_expr, as_of_date_expr) -%}
    {%- set year_boundaries = dbt.datediff(birth_date_expr, as_of_date_expr, 'year') -%}
    {%- set birthday_ahead -%}
        case
            when extract(month from {{ as_of_date_expr }}) * 100 + extract(day from {{ as_of_date_expr }})
                < extract(month from {{ birth_date_expr }}) * 100 + extract(day from {{ birth_date_expr }})
                then 1
            else 0
        end
    {%- endset -%}
    {{ dbt.cast('(' ~ year_boundaries ~ ' - ' ~ birthday_ahead ~ ')', dbt.type_int()) }}
{%- endmacro %}
