{#- Who is in which segment at as_of, in long form: one row per segment and customer. Built from
    every model tagged `segment` (models/segments/definitions/), so adding a segment is one SQL file
    and its YAML entry; the lines below let dbt see those dependencies (`make segments` rewrites them, and
    `make segment`, `make dbt` and `make run` do it for you). -#}
-- segment dependencies: begin (written by `make segments`, do not edit)
-- depends_on: {{ ref('at_risk_lapsing') }}
-- depends_on: {{ ref('browse_abandoners') }}
-- depends_on: {{ ref('cart_abandoners_24h') }}
-- depends_on: {{ ref('cart_abandoners_48h') }}
-- depends_on: {{ ref('engaged_but_inactive') }}
-- depends_on: {{ ref('high_propensity_not_purchased') }}
-- depends_on: {{ ref('high_value_churn_risk') }}
-- depends_on: {{ ref('high_value_repeat_buyers') }}
-- depends_on: {{ ref('new_customers') }}
-- depends_on: {{ ref('win_back') }}
-- segment dependencies: end
{%- set segments = segment_nodes(require_dependencies=true) %}

with members as (
    {% for segment in segments %}
        select distinct
            {{ sql_text(segment.name) }} as segment_name,
            cast(customer_key as {{ dbt.type_string() }}) as customer_key
        from {{ ref(segment.name) }}
        where customer_key is not null
        {% if not loop.last %}union all{% endif %}
    {% else %}
        {{ no_rows({'segment_name': dbt.type_string(), 'customer_key': dbt.type_string()}) }}
    {% endfor %}
)

select
    members.segment_name,
    members.customer_key,
    {{ as_of() }} as as_of
from members
inner join {{ ref('customer_profiles') }} as profiles
    on members.customer_key = profiles.customer_key
