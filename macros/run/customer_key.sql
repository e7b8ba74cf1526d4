{#- Stable customer keys: the same person gets the same key in every run. A CRM contact's key
    derives from its contact id; a guest buyer's from the normalized e-mail. -#}
{% macro customer_key_for_contact(contact_id) -%}
    'cus_' || substr({{ dbt.hash("'contact:' || " ~ contact_id) }}, 1, 20)
{%- endmacro %}

{% macro customer_key_for_email(email) -%}
    'cus_' || substr({{ dbt.hash("'email:' || " ~ email) }}, 1, 20)
{%- endmacro %}

{#- A web visitor: the device (anonymous_id), or the contact when the event names no device. -#}
{% macro web_visitor_id(anonymous_id='anonymous_id', contact_id='contact_id') -%}
    coalesce({{ anonymous_id }}, 'contact:' || {{ contact_id }})
{%- endmacro %}

{#- Only what happened strictly before the run's as_of counts: replaying history is exact. -#}
{% macro before_as_of(column) -%}
    {{ column }} < {{ as_of() }}
{%- endmacro %}

{#- Weight of something that happened on `event_date`, seen from `at`: halves every
    var behaviour_half_life_days days. In double precision on every engine: Spark divides by a
    literal such as 14.0 as a decimal rounded to 6 places (DuckDB divides in double). -#}
{% macro decay_weight(event_date, at) -%}
    power(0.5, cast({{ dbt.datediff(event_date, at, 'day') }} as double) / {{ var('behaviour_half_life_days') }})
{%- endmacro %}

{#- Whole calendar days from `earlier` to `later`. -#}
{% macro days_between(earlier, later) -%}
    {{ return(adapter.dispatch('days_between', 'audience_warehouse')(earlier, later)) }}
{%- endmacro %}

{% macro default__days_between(earlier, later) -%}
    {{ dbt.datediff("cast(" ~ earlier ~ " as date)", "cast(" ~ later ~ " as date)", 'day') }}
{%- endmacro %}

{% macro duckdb__days_between(earlier, later) -%}
    date_diff('day', cast({{ earlier }} as date), cast({{ later }} as date))
{%- endmacro %}

{#- Whole years of age on `at`. -#}
{% macro age_in_years(birth_date, at) -%}
    cast(floor({{ days_between(birth_date, at) }} / 365.25) as integer)
{%- endmacro %}

{#- Hours (with fractions) from `earlier` to `later`. -#}
{% macro hours_between(earlier, later) -%}
    cast({{ dbt.datediff(earlier, later, 'second') }} as double) / 3600
{%- endmacro %}

{#- The customer each identifier of one kind belongs to (int_identifiers_mapped, one row per
    kind and value), keyed by a column named for the kind, for a left join from events or orders. -#}
{% macro customer_keys_by(identifier_type) -%}
    select
        identifier_value as {{ identifier_type }},
        customer_key,
        resolution
    from {{ ref('int_identifiers_mapped') }}
    where identifier_type = '{{ identifier_type }}'
{%- endmacro %}
