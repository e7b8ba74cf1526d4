{#- Every landed row that did not make it into staging, with the rule it broke: lines the landing
    step could not parse, and rows the staging checks rejected (every landed table's base model:
    macros/run/checked_tables.sql). -#}
-- landed tables: begin (written by `python -m warehouse.dependencies refresh`, do not edit)
-- depends_on: {{ ref('base_catalog__products') }}
-- depends_on: {{ ref('base_crm__contacts') }}
-- depends_on: {{ ref('base_email__campaigns') }}
-- depends_on: {{ ref('base_email__events') }}
-- depends_on: {{ ref('base_orders__order_items') }}
-- depends_on: {{ ref('base_orders__orders') }}
-- depends_on: {{ ref('base_privacy__requests') }}
-- depends_on: {{ ref('base_web__events') }}
-- landed tables: end
{%- set landed_tables = checked_tables(reads=['base']) %}

with staging_rejects as (
    {% for checked in landed_tables %}
        select
            '{{ checked.source }}' as source_name,
            '{{ checked.table }}' as table_name,
            'staging' as rejected_at,
            row_key,
            rejection_rule,
            rejection_detail,
            _landing_file as landing_file,
            landing_row_hash,
            landed_row
        from {{ ref(checked.base) }}
        where rejection_rule is not null
        {% if not loop.last %}union all{% endif %}
    {% else %}
        {%- set text = dbt.type_string() %}
        {{ no_rows({
            'source_name': text, 'table_name': text, 'rejected_at': text, 'row_key': text,
            'rejection_rule': text, 'rejection_detail': text, 'landing_file': text,
            'landing_row_hash': text, 'landed_row': text,
        }) }}
    {% endfor %}
),

rejected_lines as (
    select
        rejected.*,
        erased.file_path is not null as is_erased_person,
        case when erased.file_path is null then rejected.raw_line end as kept_line
    from {{ source('landing_audit', 'rejected_lines') }} as rejected
    left join {{ ref('erased_rejected_lines') }} as erased
        on rejected.file_path = erased.file_path and rejected.line_number = erased.line_number
),

landing_rejects as (
    select
        source as source_name,
        table_name,
        'landing' as rejected_at,
        file_path || ':' || coalesce(cast(line_number as {{ dbt.type_string() }}), '?') as row_key,
        'malformed_line' as rejection_rule,
        case
            when is_erased_person then 'line of an erased person: text removed'
            else error_type || ': ' || error_message
        end as rejection_detail,
        file_path as landing_file,
        {{ dbt.hash("file_path || ':' || coalesce(cast(line_number as " ~ dbt.type_string() ~ "), '') || coalesce(kept_line, '')") }}
            as landing_row_hash,
        kept_line as landed_row
    from rejected_lines
),

all_rejects as (
    select * from staging_rejects
    union all
    select * from landing_rejects
)

select
    {{ dbt.hash(dbt.concat([
        "source_name", "'|'", "table_name", "'|'", "rejected_at", "'|'", "landing_row_hash", "'|'",
        "cast(row_number() over (partition by source_name, table_name, rejected_at, landing_row_hash "
        ~ "order by landing_file, row_key) as " ~ dbt.type_string() ~ ")"
    ])) }} as quarantine_key,
    source_name,
    table_name,
    rejected_at,
    row_key,
    rejection_rule,
    rejection_detail,
    landing_file,
    landed_row,
    {{ as_of() }} as as_of
from all_rejects
