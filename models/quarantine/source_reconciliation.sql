{#- Proves, per landed table, that nothing was lost between the files and staging:
    rows landed = rejected at landing + erased (rows of people who asked for erasure, dropped before
    staging) + quarantined in staging + duplicates collapsed + staged.
    `rows_unaccounted` must be zero; a dbt test fails the build when it is not. Every landed table
    (macros/run/checked_tables.sql). -#}
-- landed tables: begin (written by `python -m warehouse.dependencies refresh`, do not edit)
-- depends_on: {{ source('catalog', 'products') }}
-- depends_on: {{ ref('base_catalog__products') }}
-- depends_on: {{ ref('stg_catalog__products') }}
-- depends_on: {{ source('crm', 'contacts') }}
-- depends_on: {{ ref('base_crm__contacts') }}
-- depends_on: {{ ref('stg_crm__contacts') }}
-- depends_on: {{ source('email', 'campaigns') }}
-- depends_on: {{ ref('base_email__campaigns') }}
-- depends_on: {{ ref('stg_email__campaigns') }}
-- depends_on: {{ source('email', 'events') }}
-- depends_on: {{ ref('base_email__events') }}
-- depends_on: {{ ref('stg_email__events') }}
-- depends_on: {{ source('orders', 'order_items') }}
-- depends_on: {{ ref('base_orders__order_items') }}
-- depends_on: {{ ref('stg_orders__order_items') }}
-- depends_on: {{ source('orders', 'orders') }}
-- depends_on: {{ ref('base_orders__orders') }}
-- depends_on: {{ ref('stg_orders__orders') }}
-- depends_on: {{ source('privacy', 'requests') }}
-- depends_on: {{ ref('base_privacy__requests') }}
-- depends_on: {{ ref('stg_privacy__requests') }}
-- depends_on: {{ source('web', 'events') }}
-- depends_on: {{ ref('base_web__events') }}
-- depends_on: {{ ref('stg_web__events') }}
-- landed tables: end
{%- set landed_tables = checked_tables(reads=['source', 'base', 'staging']) %}

with counts as (
    {% for checked in landed_tables %}
        select
            '{{ checked.source }}' as source_name,
            '{{ checked.table }}' as table_name,
            (select count(*) from {{ source(checked.source, checked.table) }}) as rows_parsed,
            (select count(*) from {{ ref(checked.base) }}) as rows_checked,
            (
                select count(*) - count(distinct {{ checked.key }}) from {{ ref(checked.base) }}
                where rejection_rule is null
            ) as rows_collapsed_as_duplicates,
            (select count(*) from {{ ref(checked.staging) }}) as rows_staged
        {% if not loop.last %}union all{% endif %}
    {% else %}
        {{ no_rows({
            'source_name': dbt.type_string(), 'table_name': dbt.type_string(),
            'rows_parsed': dbt.type_bigint(), 'rows_checked': dbt.type_bigint(),
            'rows_collapsed_as_duplicates': dbt.type_bigint(), 'rows_staged': dbt.type_bigint(),
        }) }}
    {% endfor %}
),

rejected_at_landing as (
    select
        source as source_name,
        table_name,
        count(*) as rows_rejected_at_landing
    from {{ source('landing_audit', 'rejected_lines') }}
    group by source, table_name
),

quarantined_in_staging as (
    select
        source_name,
        table_name,
        count(*) as rows_quarantined
    from {{ ref('quarantined_rows') }}
    where rejected_at = 'staging'
    group by source_name, table_name
),

accounted as (
    select
        counts.source_name,
        counts.table_name,
        counts.rows_parsed,
        counts.rows_checked,
        coalesce(rejected_at_landing.rows_rejected_at_landing, 0) as rows_rejected_at_landing,
        coalesce(quarantined_in_staging.rows_quarantined, 0) as rows_quarantined,
        counts.rows_collapsed_as_duplicates,
        counts.rows_staged
    from counts
    left join rejected_at_landing
        on counts.source_name = rejected_at_landing.source_name and counts.table_name = rejected_at_landing.table_name
    left join quarantined_in_staging
        on
            counts.source_name = quarantined_in_staging.source_name
            and counts.table_name = quarantined_in_staging.table_name
)

select
    source_name,
    table_name,
    rows_parsed + rows_rejected_at_landing as rows_landed,
    rows_rejected_at_landing,
    rows_parsed - rows_checked as rows_erased,
    rows_quarantined,
    rows_collapsed_as_duplicates,
    rows_staged,
    rows_parsed + rows_rejected_at_landing
    - rows_rejected_at_landing - (rows_parsed - rows_checked) - rows_quarantined - rows_collapsed_as_duplicates
    - rows_staged
        as rows_unaccounted,
    {{ as_of() }} as as_of
from accounted
