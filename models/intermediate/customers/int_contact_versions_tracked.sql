{#- Every valid version of every CRM contact known at as_of, with the interval it was in effect:
    attributes and consent can then be read as they were at any point in time. -#}
with versions as (
    select
        {% for column in crm_contact_columns() %}
            {{ column }},
        {% endfor %}
        updated_at,
        _landing_file,
        _landing_row
    from {{ ref('base_crm__contacts') }}
    where
        rejection_rule is null
        and {{ before_as_of('updated_at') }}
),

deduplicated as (
    select
        *,
        row_number() over (
            partition by contact_id, updated_at
            order by _landing_file desc, _landing_row desc
        ) as copy_rank
    from versions
)

select
    {% for column in crm_contact_columns() %}
        {{ column }},
    {% endfor %}
    {{ version_validity_columns('contact_id', 'updated_at') }}
from deduplicated
where copy_rank = 1
