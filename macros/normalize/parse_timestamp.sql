{#- Text in any accepted form (docs/conventions.md) to a UTC timestamp without zone; null when the
    text is blank, not one of those forms, not a real date (31/02), or outside the years 1900-2099
    (epoch seconds: 2001-2033). -#}
{% macro parse_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'audience_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__parse_timestamp(expression) -%}
    {{ exceptions.raise_compiler_error("parse_timestamp has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__parse_timestamp(expression) -%}
    {%- set text = trim_blanks(expression) -%}
    {%- set year = "(19|20)[0-9]{2}" -%}
    (case
        when regexp_full_match({{ text }}, '1[0-9]{9}')
            then timezone('UTC', to_timestamp(cast({{ text }} as bigint)))
        when regexp_full_match(
            {{ text }}, '{{ year }}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?'
        )
            then timezone('UTC', try_cast({{ text }} as timestamptz))
        when regexp_full_match({{ text }}, '[0-9]{2}/[0-9]{2}/{{ year }} [0-9]{2}:[0-9]{2}:[0-9]{2}')
            then try_strptime({{ text }}, '%d/%m/%Y %H:%M:%S')
        when regexp_full_match({{ text }}, '[0-9]{2}/[0-9]{2}/{{ year }} [0-9]{2}:[0-9]{2}')
            then try_strptime({{ text }}, '%d/%m/%Y %H:%M')
        when regexp_full_match({{ text }}, '[0-9]{2}/[0-9]{2}/{{ year }}')
            then try_strptime({{ text }}, '%d/%m/%Y')
        when regexp_full_match({{ text }}, '[0-9]{2}\.[0-9]{2}\.{{ year }}')
            then try_strptime({{ text }}, '%d.%m.%Y')
    end)
{%- endmacro %}

{#- The same forms on Spark: ISO text through a cast (an offset converts to UTC, the session's zone),
    slash and dot dates through patterns that reject impossible dates, as DuckDB's strptime does. -#}
{% macro spark__parse_timestamp(expression) -%}
    {%- set text = trim_blanks(expression) -%}
    {%- set year = "(19|20)[0-9]{2}" -%}
    (case
        when {{ regexp_full_match(text, '1[0-9]{9}') }}
            then timestamp_seconds(cast({{ text }} as bigint))
        when {{ regexp_full_match(
            text, year ~ '-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?'
        ) }}
            then try_cast({{ text }} as timestamp)
        when {{ regexp_full_match(text, '[0-9]{2}/[0-9]{2}/' ~ year ~ ' [0-9]{2}:[0-9]{2}:[0-9]{2}') }}
            then try_to_timestamp({{ text }}, 'dd/MM/yyyy HH:mm:ss')
        when {{ regexp_full_match(text, '[0-9]{2}/[0-9]{2}/' ~ year ~ ' [0-9]{2}:[0-9]{2}') }}
            then try_to_timestamp({{ text }}, 'dd/MM/yyyy HH:mm')
        when {{ regexp_full_match(text, '[0-9]{2}/[0-9]{2}/' ~ year) }}
            then try_to_timestamp({{ text }}, 'dd/MM/yyyy')
        when {{ regexp_full_match(text, '[0-9]{2}\\.[0-9]{2}\\.' ~ year) }}
            then try_to_timestamp({{ text }}, 'dd.MM.yyyy')
    end)
{%- endmacro %}

{#- A timestamp that is also believable: null when it does not parse or lies beyond
    latest_plausible_time() (a 2099 opt-in is an export error, never a fact that wins). -#}
{% macro plausible_timestamp(expression) -%}
    (case
        when {{ parse_timestamp(expression) }} <= {{ latest_plausible_time() }} then {{ parse_timestamp(expression) }}
    end)
{%- endmacro %}
