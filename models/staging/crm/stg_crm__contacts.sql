{#- One row per contact: the latest valid version (by updated_at; ties broken by the later landing
    file, then the row hash, so the choice is deterministic). -#}
with latest_versions as (
    {{ first_valid_rows(
        ref('base_crm__contacts'),
        key='contact_id',
        order_by='updated_at desc, _landing_file desc, _landing_row desc',
        count_versions=true
    ) }}
)

select
    {% for column in crm_contact_columns() %}
        {{ column }},
    {% endfor %}
    updated_at,
    versions_landed,
    invalid_value_columns,
    _landing_file as landing_file
from latest_versions
