{#- yes/no, y/n, true/false, t/f, 1/0 in any case; blank and anything else are null (callers that
    must not guess, like consent, quarantine a non-blank value that is null here). -#}
{% macro parse_boolean(expression) -%}
    (case
        when lower({{ clean_text(expression) }}) in ('yes', 'y', 'true', 't', '1') then true
        when lower({{ clean_text(expression) }}) in ('no', 'n', 'false', 'f', '0') then false
    end)
{%- endmacro %}

{#- True when the raw text was given but did not parse: feeds invalid-value flags and rules. -#}
{% macro given_but_invalid(raw_expression, parsed_expression) -%}
    ({{ clean_text(raw_expression) }} is not null and {{ parsed_expression }} is null)
{%- endmacro %}
