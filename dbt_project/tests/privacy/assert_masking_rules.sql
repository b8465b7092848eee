{#- The masking rules of masked_select on literal rows, on both engines: names as surname plus
    asterisks, phones as 138****1234, ID numbers and pseudonyms never (even when misclassified),
    birth date as age band, address as community, timestamp as date, date as month, and the masked
    view's own rule winning over the column's (programme: keep upstream, drop here). Returns one row
    per violation. -#}
{%- set columns = [
    {'name': 'row_id', 'meta': {'privacy': 'none'}},
    {'name': 'full_name', 'meta': {'privacy': 'direct', 'masking': 'mask_name'}},
    {'name': 'phone_number', 'meta': {'privacy': 'direct', 'masking': 'mask_phone'}},
    {'name': 'id_number', 'meta': {'privacy': 'direct'}},
    {'name': 'person_pid', 'meta': {'privacy': 'quasi'}},
    {'name': 'birth_date', 'meta': {'privacy': 'quasi', 'masking': {'rule': 'age_band', 'reference': 'snapshot_date'}}},
    {'name': 'address_detail', 'meta': {'privacy': 'direct', 'masking': {'rule': 'community', 'from': 'home_community'}}},
    {'name': 'home_community', 'meta': {'privacy': 'quasi', 'masking': 'drop'}},
    {'name': 'reported_at', 'meta': {'privacy': 'none', 'masking': 'date'}},
    {'name': 'start_date', 'meta': {'privacy': 'sensitive', 'masking': 'month'}},
    {'name': 'programme', 'meta': {'privacy': 'sensitive', 'masking': 'keep'}},
    {'name': 'snapshot_date', 'meta': {'privacy': 'none'}},
] -%}
{%- set plan = masking_plan(columns, {'programme': 'drop'}, 'masking_fixture') -%}
{%- set aliases = plan.selected | map(attribute='alias') | list -%}
{%- set select_list = [] -%}
{%- for item in plan.selected %}{% do select_list.append(item.expression ~ ' as ' ~ item.alias) %}
{%- endfor -%}
{%- set expected_aliases = ['row_id', 'full_name', 'phone_number', 'age_band', 'community_code',
    'reported_date', 'start_month', 'snapshot_date'] -%}

with

masked_source as (

    select
        1 as row_id,
        '张三丰' as full_name,
        '13812341234' as phone_number,
        '110105194111250012' as id_number,
        'p1' as person_pid,
        cast('1941-11-25' as date) as birth_date,
        'x' as address_detail,
        '110105001001' as home_community,
        cast('2026-11-20 09:13:00' as {{ dbt.type_timestamp() }}) as reported_at,
        cast('2026-03-17' as date) as start_date,
        'minimum_living_allowance' as programme,
        cast('2026-11-25' as date) as snapshot_date
    union all
    select
        2 as row_id,
        '李四' as full_name,
        '12345' as phone_number,
        null as id_number,
        'p2' as person_pid,
        cast('1941-11-26' as date) as birth_date,
        'y' as address_detail,
        '110105001002' as home_community,
        cast('2026-11-20 23:59:59' as {{ dbt.type_timestamp() }}) as reported_at,
        cast('2026-03-01' as date) as start_date,
        'senior_allowance' as programme,
        cast('2026-11-25' as date) as snapshot_date
    union all
    select
        3 as row_id,
        null as full_name,
        null as phone_number,
        null as id_number,
        'p3' as person_pid,
        cast('2011-11-26' as date) as birth_date,
        null as address_detail,
        '110105001002' as home_community,
        null as reported_at,
        null as start_date,
        null as programme,
        cast('2026-11-25' as date) as snapshot_date

),

masked as (

    select {{ select_list | join(', ') }}
    from masked_source

),

expected as (

    select
        1 as row_id,
        '张**' as full_name,
        '138****1234' as phone_number,
        '85+' as age_band,
        '110105001001' as community_code,
        cast('2026-11-20' as date) as reported_date,
        cast('2026-03-01' as date) as start_month
    union all
    select
        2 as row_id,
        '李*' as full_name,
        '****' as phone_number,
        '75-84' as age_band,
        '110105001002' as community_code,
        cast('2026-11-20' as date) as reported_date,
        cast('2026-03-01' as date) as start_month
    union all
    select
        3 as row_id,
        null as full_name,
        null as phone_number,
        '0-14' as age_band,
        '110105001002' as community_code,
        null as reported_date,
        null as start_month

),

value_violations as (

    select
        expected.row_id,
        'masked values differ from the expected ones' as violation
    from expected
    left join masked
        on expected.row_id = masked.row_id
    where
        masked.row_id is null
        or masked.full_name is distinct from expected.full_name
        or masked.phone_number is distinct from expected.phone_number
        or masked.age_band is distinct from expected.age_band
        or masked.community_code is distinct from expected.community_code
        or masked.reported_date is distinct from expected.reported_date
        or masked.start_month is distinct from expected.start_month

),

plan_violations as (

    select
        0 as row_id,
        'masked columns are {{ aliases | join(", ") }}' as violation
    from masked_source
    where
        row_id = 1
        and {{ 'true' if aliases != expected_aliases else 'false' }}

),

final as (

    select * from value_violations
    union all
    select * from plan_violations

)

select * from final
