{#- Text without what can pad a value in an export without being part of it: spaces, tabs, line
    breaks, no-break and other Unicode spaces, control and zero-width characters, the byte-order
    mark. `trim` alone strips only the space. -#}
{% macro trim_blanks(expression) -%}
    {{ regexp_replace_all(expression, '^[\\s\\p{Z}\\p{C}]+|[\\s\\p{Z}\\p{C}]+$', '') }}
{%- endmacro %}

{#- Blank text (whitespace of any kind only) is "not given". -#}
{% macro clean_text(expression) -%}
    nullif({{ trim_blanks(expression) }}, '')
{%- endmacro %}

{#- Every match of a regular expression replaced. -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'audience_warehouse')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("'", "''") }}', '{{ replacement | replace("'", "''") }}')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ spark_string(pattern) }}, {{ spark_string(replacement) }})
{%- endmacro %}

{#- A Spark SQL string literal: a backslash escapes there (DuckDB's literals keep it as is). -#}
{% macro spark_string(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("'", "''") }}', '{{ replacement | replace("'", "''") }}', 'g')
{%- endmacro %}

{#- E-mails compare in one form everywhere (CRM, orders, ESP events, privacy requests, erasure
    tombstones): lower-cased, with every whitespace, control and invisible formatting character
    removed wherever it is — none can be part of an address, and a tab or a zero-width space must
    never let an unsubscribe miss its person. -#}
{% macro normalize_email(expression) -%}
    nullif({{ regexp_replace_all('lower(' ~ expression ~ ')', '[\\s\\p{Z}\\p{C}]', '') }}, '')
{%- endmacro %}

{% macro is_valid_email(normalized_expression) -%}
    coalesce({{ regexp_full_match(normalized_expression, var('valid_email_pattern')) }}, false)
{%- endmacro %}

{#- Product ids from the shop, the catalog and the web tracker differ only in case and padding. -#}
{% macro canonical_product_id(expression) -%}
    upper({{ clean_text(expression) }})
{%- endmacro %}

{% macro regexp_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'audience_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(expression, pattern) -%}
    regexp_like({{ expression }}, '^({{ pattern | replace("'", "''") }})$')
{%- endmacro %}

{% macro spark__regexp_full_match(expression, pattern) -%}
    regexp_like({{ expression }}, {{ spark_string('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro duckdb__regexp_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{#- True when the pattern matches anywhere in the text. -#}
{% macro regexp_contains(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'audience_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(expression, pattern) -%}
    regexp_like({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro spark__regexp_contains(expression, pattern) -%}
    regexp_like({{ expression }}, {{ spark_string(pattern) }})
{%- endmacro %}

{% macro duckdb__regexp_contains(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{#- Gender as recorded, reduced to female / male / other; anything unrecognized is null. -#}
{% macro normalize_gender(expression) -%}
    (case
        when lower({{ clean_text(expression) }}) in ('f', 'female', 'w', 'woman') then 'female'
        when lower({{ clean_text(expression) }}) in ('m', 'male', 'man') then 'male'
        when lower({{ clean_text(expression) }}) in ('x', 'other', 'non-binary', 'nonbinary', 'diverse') then 'other'
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

{#- A type as exports spell it, reduced to its letters in lower case ('Un-Subscribed ' is
    'unsubscribed'): the form the spelling vars below are written in. -#}
{% macro letters_only(expression) -%}
    {{ regexp_replace_all('lower(' ~ expression ~ ')', '[^a-z]', '') }}
{%- endmacro %}

{#- The contract's value for a type column, from a spelling map and consent patterns held in vars:
    a spelling that matches a consent pattern (var consent_type_patterns) is that consent fact
    whatever else it says, so no spelling of "unsubscribe" or "complaint" is ever mistaken for an
    unknown type; then the exact spellings of `spellings`; anything else is null (unknown). -#}
{% macro canonical_type(expression, spellings, consent_patterns) -%}
    {%- set letters = letters_only(expression) -%}
    (case
        {%- for canonical, pattern in consent_patterns.items() %}
        when {{ regexp_contains(letters, pattern) }} then '{{ canonical }}'
        {%- endfor %}
        {%- for canonical, names in spellings.items() %}
        when {{ letters }} in ({% for name in names %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %})
            then '{{ canonical }}'
        {%- endfor %}
    end)
{%- endmacro %}
