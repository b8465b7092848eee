{#- Double-precision float on every adapter. type_double() is `float`, which DuckDB reads as a
    4-byte REAL; `double precision` means 8 bytes on DuckDB and PostgreSQL alike. -#}
{% macro type_double() -%}
    double precision
{%- endmacro %}
