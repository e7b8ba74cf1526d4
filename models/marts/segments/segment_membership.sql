{#- Who is in which segment at as_of, in long form: one row per segment and customer. Built from
    every model tagged `segment` (models/segments/), so adding a segment is one SQL file and its
    YAML entry. Erased customers are never members (they are not in customer_profiles). -#}
{%- set segments = segment_nodes() %}

with members as (
    {% for segment in segments %}
        select distinct
            {{ sql_text(segment.name) }} as segment_name,
            cast(customer_key as varchar) as customer_key
        from {{ segment_relation(segment) }}
        where customer_key is not null
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as varchar) as segment_name,
            cast(null as varchar) as customer_key
        where false
    {% endfor %}
)

select
    members.segment_name,
    members.customer_key,
    {{ as_of() }} as as_of
from members
inner join {{ ref('customer_profiles') }} as profiles
    on members.customer_key = profiles.customer_key
