{#- Holdouts are decided here and only here: activation reads holdout_arm, holdout_bucket,
    holdout_share and holdout_hash_version from restricted.audience_export and never hashes.

    The holdout bucket in [0, 1) of a customer in a campaign: the first 8 hex digits of
    md5(salt || ':' || campaign_key || ':' || customer_key) / 16^8, salt = var holdout_salt.
    Deterministic (the same arm every run), independent across campaigns (the campaign key is in
    the hash); control when the bucket is below var holdout_share. A campaign that names several
    treatment arms (seed campaign_arms) splits the rest of the line between them by their shares
    (holdout_arm below); one that names none keeps its one arm, `treatment`. -#}
{% macro holdout_bucket(campaign_key, customer_key) -%}
    {{ return(adapter.dispatch('holdout_bucket', 'audience_warehouse')(campaign_key, customer_key)) }}
{%- endmacro %}

{% macro default__holdout_bucket(campaign_key, customer_key) -%}
    {{ exceptions.raise_compiler_error("holdout_bucket has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro spark__holdout_bucket(campaign_key, customer_key) -%}
    cast(conv(
        substr(md5(concat('{{ var("holdout_salt") }}', ':', {{ campaign_key }}, ':', {{ customer_key }})), 1, 8), 16, 10
    ) as double) / 4294967296.0
{%- endmacro %}

{% macro duckdb__holdout_bucket(campaign_key, customer_key) -%}
    cast(
        ('0x' || substr(md5('{{ var("holdout_salt") }}' || ':' || {{ campaign_key }} || ':' || {{ customer_key }}), 1, 8))
        as ubigint
    ) / 4294967296.0
{%- endmacro %}

{#- The control share of every campaign (var holdout_share), checked to be a share in [0, 1). -#}
{% macro holdout_share() -%}
    {%- set share = var('holdout_share') | float -%}
    {%- if share < 0 or share >= 1 -%}
        {{ exceptions.raise_compiler_error("var holdout_share must be a share in [0, 1), got " ~ var('holdout_share')) }}
    {%- endif -%}
    cast({{ share }} as double)
{%- endmacro %}

{#- The arm of a customer in a campaign: control when the bucket is below var holdout_share, else the
    treatment arm whose bucket range holds it (int_campaign_arm_ranges, from seed campaign_arms)
    or, for a campaign that names no arms, the one arm `treatment`. The same bucket decides the
    holdout and the variant, so both are deterministic per (campaign, customer). -#}
{% macro holdout_arm(bucket, variant_arm) -%}
    case when {{ bucket }} < {{ holdout_share() }} then 'control' else coalesce({{ variant_arm }}, 'treatment') end
{%- endmacro %}

{#- The name of the hash above, logged with every assignment (activation.holdout_assignments): a
    new hash is a new version, so assignments made by two hashes are never read as one. -#}
{% macro holdout_hash_version() -%}
    'md5-8hex-v1'
{%- endmacro %}

{#- A JSON array of objects, one per row of the group, ordered: e-mail blocks read it as is. -#}
{% macro json_array_agg(fields, order_by) -%}
    {{ return(adapter.dispatch('json_array_agg', 'audience_warehouse')(fields, order_by)) }}
{%- endmacro %}

{% macro default__json_array_agg(fields, order_by) -%}
    {{ exceptions.raise_compiler_error("json_array_agg has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{#- Spark's collect_list has no order: each element carries its sort key, sorted, then dropped. -#}
{% macro spark__json_array_agg(fields, order_by) -%}
    to_json(transform(
        array_sort(collect_list(named_struct(
            '_aw_order', {{ order_by }},
            '_aw_value', named_struct(
                {%- for name, expression in fields.items() %}
                '{{ name }}', {{ expression }}{{ "," if not loop.last }}
                {%- endfor %}
            )
        ))),
        item -> item._aw_value
    ), map('ignoreNullFields', 'false'))
{%- endmacro %}

{% macro duckdb__json_array_agg(fields, order_by) -%}
    cast(to_json(list(struct_pack(
        {%- for name, expression in fields.items() %}
        "{{ name }}" := {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    ) order by {{ order_by }})) as varchar)
{%- endmacro %}
