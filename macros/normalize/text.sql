{#- Blank or whitespace-only text is "not given". -#}
{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{#- E-mails compare trimmed and lower-cased everywhere: CRM, orders, ESP events, privacy requests. -#}
{% macro normalize_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}

{% macro is_valid_email(normalized_expression) -%}
    coalesce({{ regexp_full_match(normalized_expression, var('valid_email_pattern')) }}, false)
{%- endmacro %}

{#- Product ids from the shop, the catalog and the web tracker differ only in case and padding. -#}
{% macro canonical_product_id(expression) -%}
    nullif(upper(trim({{ expression }})), '')
{%- endmacro %}

{% macro regexp_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'audience_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(expression, pattern) -%}
    regexp_like({{ expression }}, '^({{ pattern | replace("'", "''") }})$')
{%- endmacro %}

{% macro duckdb__regexp_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{#- Gender as recorded, reduced to female / male / other; anything unrecognized is null. -#}
{% macro normalize_gender(expression) -%}
    (case
        when lower(trim({{ expression }})) in ('f', 'female', 'w', 'woman') then 'female'
        when lower(trim({{ expression }})) in ('m', 'male', 'man') then 'male'
        when lower(trim({{ expression }})) in ('x', 'other', 'non-binary', 'nonbinary', 'diverse') then 'other'
    end)
{%- endmacro %}

{#- True when the value is one of an enumeration held in a var (event types, request types...). -#}
{% macro is_one_of(expression, values) -%}
    {{ expression }} in (
        {%- for value in values %}
        '{{ value | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
