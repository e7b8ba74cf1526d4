{#- Every character that can pad a value in an export without being part of it: spaces, tabs, line
    breaks, form and vertical feeds, no-break and narrow no-break spaces, zero-width characters, the
    byte-order mark, ideographic space. `trim` alone strips only the space. -#}
{% macro blank_characters() -%}
    {%- set code_points = [32, 9, 10, 11, 12, 13, 133, 160, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199,
        8200, 8201, 8202, 8203, 8204, 8205, 8232, 8233, 8239, 8287, 8288, 12288, 65279] -%}
    ({%- for code_point in code_points -%}chr({{ code_point }}){{ " || " if not loop.last }}{%- endfor -%})
{%- endmacro %}

{#- Text without the blank characters around it. -#}
{% macro trim_blanks(expression) -%}
    {{ return(adapter.dispatch('trim_blanks', 'audience_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__trim_blanks(expression) -%}
    trim(both {{ blank_characters() }} from {{ expression }})
{%- endmacro %}

{% macro duckdb__trim_blanks(expression) -%}
    trim({{ expression }}, {{ blank_characters() }})
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
