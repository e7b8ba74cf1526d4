{#- One row per contact: the latest valid version (by updated_at; ties broken by the later landing
    file, then the row hash, so the choice is deterministic). -#}
with valid_versions as (
    select *
    from {{ ref('base_crm__contacts') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        count(*) over (partition by contact_id) as versions_landed,
        row_number() over (
            partition by contact_id
            order by updated_at desc, _landing_file desc, _landing_row desc
        ) as version_rank
    from valid_versions
)

select
    {% for column in crm_contact_columns() %}
        {{ column }},
    {% endfor %}
    updated_at,
    versions_landed,
    invalid_value_columns,
    _landing_file as landing_file
from ranked
where version_rank = 1
