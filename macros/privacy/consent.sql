{#- Every e-mail address found in a landed line too broken to parse (landing.rejected_lines), one row
    per (line, address): a line we cannot read may carry an opt-out, so consent suppresses its
    addresses on doubt. `every_line_of` lists (source, table) pairs whose every line bears consent
    (CRM contacts, privacy requests); `consent_lines_of` those whose lines bear consent only when
    their text looks like it (var email_consent_type_patterns: an unsubscribe, a complaint...). -#}
{% macro emails_in_rejected_lines(every_line_of, consent_lines_of) -%}
    {{ return(adapter.dispatch('emails_in_rejected_lines', 'audience_warehouse')(every_line_of, consent_lines_of)) }}
{%- endmacro %}

{% macro rejected_consent_lines(every_line_of, consent_lines_of) -%}
    {%- set consent_pattern = var('email_consent_type_patterns').values() | join('|') -%}
    select
        source as source_name,
        table_name,
        file_path as landing_file,
        line_number as landing_row,
        lower(raw_line) as line_text
    from {{ source('landing_audit', 'rejected_lines') }}
    where
        raw_line is not null
        and (
            false
            {%- for source_name, table_name in every_line_of %}
            or (source = '{{ source_name }}' and table_name = '{{ table_name }}')
            {%- endfor %}
            {%- for source_name, table_name in consent_lines_of %}
            or (
                source = '{{ source_name }}' and table_name = '{{ table_name }}'
                and {{ regexp_contains(letters_only('raw_line'), consent_pattern) }}
            )
            {%- endfor %}
        )
{%- endmacro %}

{% macro default__emails_in_rejected_lines(every_line_of, consent_lines_of) -%}
    select
        source_name,
        table_name,
        landing_file,
        landing_row,
        explode(regexp_extract_all(line_text, {{ spark_string('(' ~ var("valid_email_pattern") ~ ')') }}, 1)) as email
    from ({{ rejected_consent_lines(every_line_of, consent_lines_of) }}) as lines
{%- endmacro %}

{% macro duckdb__emails_in_rejected_lines(every_line_of, consent_lines_of) -%}
    select
        source_name,
        table_name,
        landing_file,
        landing_row,
        unnest(regexp_extract_all(line_text, '{{ var("valid_email_pattern") | replace("'", "''") }}')) as email
    from ({{ rejected_consent_lines(every_line_of, consent_lines_of) }}) as lines
{%- endmacro %}
