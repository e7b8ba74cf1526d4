{#- Every landed table with its checking (base) model, its staging model and the key staging
    deduplicates on. quarantined_rows and source_reconciliation both read this list, so a new
    source is added here once. -#}
{% macro checked_tables() -%}
    {{ return([
        {'source': 'crm', 'table': 'contacts', 'base': 'base_crm__contacts',
         'staging': 'stg_crm__contacts', 'key': 'contact_id'},
        {'source': 'orders', 'table': 'orders', 'base': 'base_orders__orders',
         'staging': 'stg_orders__orders', 'key': 'order_id'},
        {'source': 'orders', 'table': 'order_items', 'base': 'base_orders__order_items',
         'staging': 'stg_orders__order_items', 'key': 'order_line_key'},
        {'source': 'catalog', 'table': 'products', 'base': 'base_catalog__products',
         'staging': 'stg_catalog__products', 'key': 'product_id'},
        {'source': 'web', 'table': 'events', 'base': 'base_web__events',
         'staging': 'stg_web__events', 'key': 'event_id'},
        {'source': 'email', 'table': 'campaigns', 'base': 'base_email__campaigns',
         'staging': 'stg_email__campaigns', 'key': 'campaign_id'},
        {'source': 'email', 'table': 'events', 'base': 'base_email__events',
         'staging': 'stg_email__events', 'key': 'event_id'},
        {'source': 'privacy', 'table': 'requests', 'base': 'base_privacy__requests',
         'staging': 'stg_privacy__requests', 'key': "coalesce(request_id, 'row:' || landing_row_hash)"},
    ]) }}
{%- endmacro %}
