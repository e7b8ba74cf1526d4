{#- The segment catalog: every segment model with the description, owner, priority, target list,
    campaign group and offer from its YAML, how often it is refreshed (`triggered` when the model is
    tagged so, else `daily`) and its size at as_of. -#}
{%- set segments = segment_nodes() %}

with catalog as (
    {% for segment in segments %}
        {%- set meta = segment.config.meta.segment %}
        select
            {{ sql_text(segment.name) }} as segment_name,
            {{ sql_text(segment.description) }} as description,
            {{ sql_text(meta.owner) }} as owner,
            cast({{ meta.priority }} as integer) as priority,
            {{ sql_text(meta.target_list) }} as target_list,
            {{ sql_text(meta.campaign_group) }} as campaign_group,
            {% if meta.offer %}{{ sql_text(meta.offer) }}{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as offer,
            {{ sql_text(segment.original_file_path) }} as defined_in,
            {{ sql_text(segment_refresh(segment)) }} as refresh
        {% if not loop.last %}union all{% endif %}
    {% else %}
        {%- set text = dbt.type_string() %}
        {{ no_rows({
            'segment_name': text, 'description': text, 'owner': text, 'priority': dbt.type_int(),
            'target_list': text, 'campaign_group': text, 'offer': text, 'defined_in': text,
            'refresh': text,
        }) }}
    {% endfor %}
),

sizes as (
    select
        segment_name,
        count(*) as members
    from {{ ref('segment_membership') }}
    group by segment_name
),

population as (
    select count(*) as customers from {{ ref('customer_profiles') }}
)

select
    catalog.segment_name,
    catalog.description,
    catalog.owner,
    catalog.priority,
    catalog.target_list,
    catalog.campaign_group,
    catalog.offer,
    catalog.defined_in,
    catalog.refresh,
    coalesce(sizes.members, 0) as members,
    cast(coalesce(sizes.members, 0) / nullif(population.customers, 0) as double) as share_of_customers,
    {{ as_of() }} as as_of
from catalog
cross join population
left join sizes
    on catalog.segment_name = sizes.segment_name
