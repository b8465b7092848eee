{#- The area columns a mart's rows start with: district, street and community codes and names from a
    divisions relation (int_communities, or ref_divisions for grid-level marts), in that order, for a
    final select. The community code comes from the mart's own rows (`community_code`), never from the
    left-joined divisions, so a row whose community is missing from the seed keeps its code. The
    columns are strings already (the seed's column_types): no cast. -#}
{% macro community_hierarchy_columns(
    community_code,
    divisions='communities',
    columns=['district_code', 'district_name', 'street_code', 'street_name', 'community_code', 'community_name']
) -%}
    {%- set selected = [] -%}
    {%- for column in columns -%}
        {%- if column == 'community_code' -%}
            {%- do selected.append(community_code ~ ' as community_code') -%}
        {%- else -%}
            {%- do selected.append(divisions ~ '.' ~ column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ selected | join(',\n        ') }}
{%- endmacro %}
