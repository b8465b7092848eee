{#- Masked row-level views generated from column classification (the `analyst` schema).

    The classification is declared once, in the upstream model's YAML (`meta.privacy` per column:
    direct | quasi | sensitive | none). `masked_select('stg_x')` reads it from the dbt graph and emits a
    select over ref('stg_x') in which every column gets one masking rule:

      rule        what it emits                                   allowed on
      keep        the column as is                                quasi, none, sensitive (opt-in only)
      drop        nothing                                         any class
      mask_name   surname plus asterisks (张三丰 -> 张**)          direct plaintext names
      mask_phone  138****1234                                     direct plaintext phone numbers
      age_band    a birth date as the warehouse age band          dates
      community   an address replaced by the community code      addresses
      date        a timestamp generalized to its date (x_at -> x_date)
      month       a date generalized to its month (x_date -> x_month)

    A column's rule comes from, in order: the masked view's own YAML (`config.meta.masking`,
    {column: rule}), the upstream column's `meta.masking`, then the class default: direct and
    sensitive are dropped, quasi and none are kept, except quasi birth dates (-> age_band) and
    addresses (-> community). A rule may be a dict {rule: ..., as: alias, reference: column,
    from: column} to name the output or the reference date / community column.

    Never shown, whatever the YAML says (asking for it is a compile error): pseudonyms (`*_pid` or a
    `meta.pseudonym_domain`: analysts could re-link them across sources), resident ID numbers, and
    any direct identifier without a masking rule. Columns that are not documented in the upstream
    YAML are not selected at all (allowlist), and an unclassified column is a compile error.

    When the masked view's YAML lists columns, they must equal the generated ones, in order, with the
    derived class, so the view's documentation is a checked contract.

    dbt unit tests cannot cover a masked view (they run without the graph the classification is read
    from): the rules are tested on literal rows by tests/privacy/assert_masking_rules.sql, and the built
    views by tests/test_privacy.py. -#}

{% macro masked_select(model_name) -%}
    {%- set relation = ref(model_name) -%}
    {%- if not execute -%}
        {{- return('select 1 as parse_placeholder from ' ~ relation) -}}
    {%- endif -%}
    {%- set upstream = privacy_model_node(model_name) -%}
    {%- set view_meta = config.get('meta') or {} -%}
    {%- set overrides = view_meta.get('masking') or {} -%}
    {%- set plan = masking_plan(upstream.columns.values() | list, overrides, model_name) -%}
    {%- if not plan.selected -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ': no column of ' ~ model_name ~ ' may be shown; document and classify its columns') }}
    {%- endif -%}
    {%- do check_masked_view_contract(plan) -%}
select
    {%- for item in plan.selected %}
    {{ item.expression }} as {{ item.alias }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ relation }} as masked_source
{%- for item in plan.dropped %}
-- not shown: {{ item.name }} ({{ item.reason }})
{%- endfor %}
{%- endmacro %}


{#- The model node of the dbt graph named `model_name` (compile error when there is none). -#}
{% macro privacy_model_node(model_name) -%}
    {%- set found = graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'model')
        | selectattr('name', 'equalto', model_name)
        | list -%}
    {%- if found | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            'masked_select: no model named ' ~ model_name ~ ' in the project (found ' ~ found | length ~ ')') }}
    {%- endif -%}
    {{- return(found[0]) -}}
{%- endmacro %}


{#- Decide every column's fate. `columns` are dicts with name and meta (as in the graph); returns
    {'selected': [{name, alias, expression, rule, privacy}], 'dropped': [{name, reason}]}. -#}
{% macro masking_plan(columns, overrides={}, model_name='model') -%}
    {%- set classes = ['direct', 'quasi', 'sensitive', 'none'] -%}
    {%- set rules = ['keep', 'drop', 'mask_name', 'mask_phone', 'age_band', 'community', 'date', 'month'] -%}
    {%- set unknown = overrides.keys() | reject('in', columns | map(attribute='name') | list) | list -%}
    {%- if unknown -%}
        {{ exceptions.raise_compiler_error(
            'masking rules for ' ~ unknown | join(', ') ~ ' name no column of ' ~ model_name) }}
    {%- endif -%}
    {%- set decided = [] -%}
    {%- for column in columns -%}
        {%- set name = column.name -%}
        {%- set meta = column.meta or {} -%}
        {%- set privacy = meta.get('privacy') -%}
        {%- if privacy not in classes -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ '.' ~ name ~ ': meta.privacy is ' ~ privacy
                ~ '; classify it as one of ' ~ classes | join(', ') ~ ' in the model YAML') }}
        {%- endif -%}
        {%- set is_pseudonym = name.endswith('_pid') or meta.get('pseudonym_domain') is not none -%}
        {%- set is_id_number = meta.get('pseudonym_domain') == 'resident'
            or name in ['resident_id', 'id_number', 'id_card', 'reporter_id']
            or name.endswith('_id_number') -%}
        {%- set spec = overrides.get(name, meta.get('masking')) -%}
        {%- set by_default = spec is none -%}
        {%- if spec is none -%}
            {%- set spec = 'drop' if is_pseudonym or is_id_number else privacy_default_rule(name, privacy) -%}
        {%- endif -%}
        {%- set spec = {'rule': spec} if spec is string else spec -%}
        {%- if spec.rule not in rules -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ '.' ~ name ~ ': unknown masking rule ' ~ spec.rule ~ ' (rules: ' ~ rules | join(', ') ~ ')') }}
        {%- endif -%}
        {%- if spec.rule != 'drop' and (is_pseudonym or is_id_number) -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ '.' ~ name ~ ': pseudonyms and ID numbers are never shown in masked views'
                ~ ' (rule ' ~ spec.rule ~ ' refused); remove the rule') }}
        {%- endif -%}
        {%- if privacy == 'direct' and spec.rule not in ['drop', 'mask_name', 'mask_phone', 'community'] -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ '.' ~ name ~ ': a direct identifier can only be dropped or masked'
                ~ ' (mask_name, mask_phone, community), not ' ~ spec.rule) }}
        {%- endif -%}
        {%- do decided.append({'name': name, 'privacy': privacy, 'spec': spec, 'by_default': by_default,
            'pseudonym': is_pseudonym, 'id_number': is_id_number}) -%}
    {%- endfor -%}

    {#- Aliases kept as is: a generalization whose output already exists upstream is satisfied by it. -#}
    {%- set kept = decided | selectattr('spec.rule', 'equalto', 'keep') | map(attribute='name') | list -%}
    {%- set selected = [] -%}
    {%- set dropped = [] -%}
    {%- for item in decided -%}
        {%- set rule = item.spec.rule -%}
        {%- set column = 'masked_source.' ~ item.name -%}
        {%- if rule == 'drop' -%}
            {%- if item.pseudonym -%}
                {%- do dropped.append({'name': item.name, 'reason': 'pseudonym'}) -%}
            {%- elif item.id_number -%}
                {%- do dropped.append({'name': item.name, 'reason': 'ID number'}) -%}
            {%- else -%}
                {%- do dropped.append({'name': item.name,
                    'reason': item.privacy ~ ('' if item.by_default else ', dropped by rule')}) -%}
            {%- endif -%}
        {%- elif rule == 'keep' -%}
            {%- do selected.append({'name': item.name, 'alias': item.name, 'rule': rule,
                'privacy': item.privacy, 'expression': column}) -%}
        {%- else -%}
            {%- set alias = item.spec.get('as') or privacy_rule_alias(item.name, rule) -%}
            {%- if alias in kept -%}
                {%- do dropped.append({'name': item.name, 'reason': rule ~ ' already shown as ' ~ alias}) -%}
            {%- else -%}
                {%- do selected.append({'name': item.name, 'alias': alias, 'rule': rule,
                    'privacy': 'quasi' if item.privacy == 'direct' else item.privacy,
                    'expression': privacy_rule_expression(rule, column, item.spec)}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set aliases = selected | map(attribute='alias') | list -%}
    {%- for alias in aliases -%}
        {%- if aliases[loop.index0 + 1:] | select('equalto', alias) | list -%}
            {{ exceptions.raise_compiler_error(
                model_name ~ ': masking produces the column ' ~ alias ~ ' twice; name one with `as`') }}
        {%- endif -%}
    {%- endfor -%}
    {{- return({'selected': selected, 'dropped': dropped}) -}}
{%- endmacro %}


{#- Class default when no YAML names a rule. -#}
{% macro privacy_default_rule(name, privacy) -%}
    {%- if privacy in ['direct', 'sensitive'] -%}
        {{- return('drop') -}}
    {%- elif privacy == 'quasi' and name.endswith('birth_date') -%}
        {{- return('age_band') -}}
    {%- elif privacy == 'quasi' and 'address' in name -%}
        {{- return('community') -}}
    {%- else -%}
        {{- return('keep') -}}
    {%- endif -%}
{%- endmacro %}


{#- Default output name of a generalized column. -#}
{% macro privacy_rule_alias(name, rule) -%}
    {%- if rule == 'age_band' -%}
        {{- return('age_band') -}}
    {%- elif rule == 'community' -%}
        {{- return('community_code') -}}
    {%- elif rule == 'date' -%}
        {{- return(name[:-3] ~ '_date' if name.endswith('_at') else name ~ '_date') -}}
    {%- elif rule == 'month' -%}
        {{- return(name[:-5] ~ '_month' if name.endswith('_date') else name ~ '_month') -}}
    {%- else -%}
        {{- return(name) -}}
    {%- endif -%}
{%- endmacro %}


{#- SQL expression of a masking rule applied to `column`. -#}
{% macro privacy_rule_expression(rule, column, spec={}) -%}
    {%- if rule == 'mask_name' -%}
        {{ mask_name(column) }}
    {%- elif rule == 'mask_phone' -%}
        {{ mask_phone(column) }}
    {%- elif rule == 'age_band' -%}
        {%- set reference = 'masked_source.' ~ spec.reference if spec.get('reference') else dbt.current_timestamp() -%}
        {{ age_band(age_in_years('cast(' ~ column ~ ' as date)', 'cast(' ~ reference ~ ' as date)')) }}
    {%- elif rule == 'community' -%}
        {{ 'masked_source.' ~ (spec.get('from') or 'community_code') }}
    {%- elif rule == 'date' -%}
        cast({{ column }} as date)
    {%- elif rule == 'month' -%}
        cast({{ dbt.date_trunc('month', column) }} as date)
    {%- endif -%}
{%- endmacro %}


{#- A name shown as its first character (the surname) followed by asterisks: 张三丰 -> 张**, 李四 -> 李*.
    Null stays null. -#}
{% macro mask_name(expr) -%}
    case
        when {{ expr }} is null then null
        else {{ dbt.concat(['substr(' ~ expr ~ ', 1, 1)',
            "repeat('*', " ~ 'greatest(' ~ dbt.length(expr) ~ ' - 1, 1))']) }}
    end
{%- endmacro %}


{#- A phone number shown as its first three and last four digits: 13812341234 -> 138****1234; anything
    shorter than 8 characters becomes '****'. Null stays null. -#}
{% macro mask_phone(expr) -%}
    case
        when {{ expr }} is null then null
        when {{ dbt.length(expr) }} < 8 then '****'
        else {{ dbt.concat(['substr(' ~ expr ~ ', 1, 3)', "'****'", dbt.right(expr, 4)]) }}
    end
{%- endmacro %}


{#- When the masked view's YAML documents columns, they must be exactly the generated ones, in order,
    each with the class the generator derived (kept and generalized columns keep their class; masked
    direct identifiers become quasi). -#}
{% macro check_masked_view_contract(plan) -%}
    {%- set documented = model.columns.values() | list -%}
    {%- if documented | length == 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set generated = plan.selected | map(attribute='alias') | list -%}
    {%- if documented | map(attribute='name') | list != generated -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ': YAML columns ' ~ documented | map(attribute='name') | join(', ')
            ~ ' differ from the masked columns ' ~ generated | join(', ') ~ '; update the YAML') }}
    {%- endif -%}
    {%- for item in plan.selected -%}
        {%- set declared = (documented[loop.index0].meta or {}).get('privacy') -%}
        {%- if declared != item.privacy -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ '.' ~ item.alias ~ ': YAML says privacy ' ~ declared ~ ' but the column is derived ('
                ~ item.rule ~ ') from a ' ~ item.privacy ~ ' column; declare ' ~ item.privacy) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
