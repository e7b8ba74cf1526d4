{#- The single "now" of a run: recency, windows and labels are all relative to it, so a run is
    reproducible and history can be replayed. Taken from --vars as_of, else the AW_AS_OF
    environment variable, else the run's start time. -#}
{% macro as_of_text() -%}
    {%- set value = var('as_of', none) or env_var('AW_AS_OF', '') -%}
    {%- if not value -%}
        {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(value.replace('Z', '+00:00')) if value | length >= 10 else none -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error("as_of must be an ISO date or date-time such as 2026-06-30 or 2026-06-30T00:00:00Z, got: " ~ value) }}
    {%- endif -%}
    {%- if parsed.tzinfo is not none -%}
        {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return(parsed.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ as_of_text() }}' as timestamp)
{%- endmacro %}

{#- The latest time a landed date may carry and still be believed: var plausible_future_days after
    the later of as_of and the build's own wall-clock start. Later dates are export errors (a 2099
    opt-in, a 2030 order), not the future: staging flags them instead of letting them win. -#}
{% macro latest_plausible_time() -%}
    {%- set started = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)" -%}
    {{ dbt.dateadd('day', var('plausible_future_days'), 'greatest(' ~ as_of() ~ ', ' ~ started ~ ')') }}
{%- endmacro %}
