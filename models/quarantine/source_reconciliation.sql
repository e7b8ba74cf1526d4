{#- Proves, per landed table, that nothing was lost between the files and staging:
    rows landed = rejected at landing + erased (rows of people who asked for erasure, dropped before
    staging) + quarantined in staging + duplicates collapsed + staged.
    `rows_unaccounted` must be zero; a dbt test fails the build when it is not. -#}
with counts as (
    {% for checked in checked_tables() %}
        select
            '{{ checked.source }}' as source_name,
            '{{ checked.table }}' as table_name,
            (select count(*) from {{ source(checked.source, checked.table) }}) as rows_parsed,
            (select count(*) from {{ ref(checked.base) }}) as rows_checked,
            (
                select count(*) from {{ source('landing_audit', 'rejected_lines') }}
                where source = '{{ checked.source }}' and table_name = '{{ checked.table }}'
            ) as rows_rejected_at_landing,
            (
                select count(*) from {{ ref('quarantined_rows') }}
                where source_name = '{{ checked.source }}' and table_name = '{{ checked.table }}'
                    and rejected_at = 'staging'
            ) as rows_quarantined,
            (
                select count(*) - count(distinct {{ checked.key }}) from {{ ref(checked.base) }}
                where rejection_rule is null
            ) as rows_collapsed_as_duplicates,
            (select count(*) from {{ ref(checked.staging) }}) as rows_staged
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
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
from counts
