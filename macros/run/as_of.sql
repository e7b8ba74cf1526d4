{#- The single "now" of a run: recency, windows and labels are all relative to it, so a run is
    reproducible and history can be replayed.

    Resolved once per dbt invocation, by the on-run-start hook (start_run_context) and recorded in
    audit.run_context: the `as_of` var, else the AW_AS_OF environment variable (an ISO date or
    date-time, with or without a zone, or `now`), else the as_of of the warehouse's last
    successful invocation — so a plain `dbt build` keeps the warehouse's current as_of instead of
    taking a fresh "now" each time — else, for a new warehouse, the invocation's start time.
    warehouse/context.py parses the same forms for Python. -#}

{#- as_of given on purpose (var or environment), as 'YYYY-MM-DD HH:MM:SS' UTC; '' when none.
    Not read while dbt parses (nothing parsed depends on it): dbt re-parses every file that read an
    environment variable whose value changed since, and as_of changes every run. -#}
{% macro explicit_as_of() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set value = var('as_of', none) or env_var('AW_AS_OF', '') -%}
    {%- if not value -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(parse_as_of(value | string)) }}
{%- endmacro %}

{% macro parse_as_of(value) -%}
    {%- set value = value | trim -%}
    {%- if value | lower == 'now' -%}
        {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(value.replace('Z', '+00:00')) if value | length >= 10 else none -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error("as_of must be an ISO date or date-time such as 2026-06-30 or 2026-06-30T00:00:00Z, or `now`; got: " ~ value) }}
    {%- endif -%}
    {%- if parsed.tzinfo is not none -%}
        {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return(parsed.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}

{% macro as_of_text() -%}
    {%- set explicit = explicit_as_of() -%}
    {%- if explicit -%}
        {{ return(explicit) }}
    {%- endif -%}
    {%- if execute -%}
        {%- set recorded = recorded_as_of() -%}
        {%- if recorded -%}
            {{ return(recorded) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ as_of_text() }}' as timestamp)
{%- endmacro %}

{#- The as_of this invocation recorded, else the one of the last successful invocation; '' when the
    warehouse has none. -#}
{% macro recorded_as_of() -%}
    {%- set relation = run_context_relation() -%}
    {%- if relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set found = run_query(
        "select as_of from (select cast(as_of as " ~ dbt.type_string() ~ ") as as_of, 0 as preference from " ~ relation
        ~ " where invocation_id = '" ~ invocation_id ~ "' union all select * from (select cast(as_of as "
        ~ dbt.type_string() ~ "), 1"
        ~ " from " ~ relation ~ " where succeeded order by finished_at desc limit 1)) as candidates"
        ~ " order by preference limit 1"
    ) -%}
    {{ return(found.columns[0].values()[0][:19] if found.rows | length > 0 else '') }}
{%- endmacro %}

{#- audit.run_context when it exists, asked of the warehouse itself: dbt's relation cache does not
    know a table its own hook created during the invocation. -#}
{% macro run_context_relation() -%}
    {%- if not run_context_exists() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_context_table()) }}
{%- endmacro %}

{#- Spark's target has no database (a schema is a database there): none, as dbt-spark expects. -#}
{% macro run_context_table() -%}
    {{ return(api.Relation.create(database=target.get('database'), schema='audit', identifier='run_context')) }}
{%- endmacro %}

{% macro run_context_exists() -%}
    {{ return(adapter.dispatch('run_context_exists', 'audience_warehouse')()) }}
{%- endmacro %}

{% macro default__run_context_exists() -%}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_schema = 'audit' and table_name = 'run_context'"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- Spark has no information_schema: its catalog answers SHOW TABLES. -#}
{% macro spark__run_context_exists() -%}
    {%- if run_query("show databases like 'audit'").rows | length == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(run_query("show tables in audit like 'run_context'").rows | length > 0) }}
{%- endmacro %}

{#- on-run-start: decide this invocation's as_of and record it (audit.run_context). -#}
{% macro start_run_context() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set relation = run_context_table() -%}
    {%- do adapter.create_schema(relation) -%}
    {%- set text = dbt.type_string() -%}
    {%- do run_query(
        "create table if not exists " ~ relation ~ " (invocation_id " ~ text ~ ", as_of timestamp, as_of_source " ~ text
        ~ ", command " ~ text ~ ", started_at timestamp, finished_at timestamp, succeeded boolean)"
    ) -%}
    {%- set explicit = explicit_as_of() -%}
    {%- if explicit -%}
        {%- set chosen, source = explicit, ('the as_of var' if var('as_of', none) else 'AW_AS_OF') -%}
    {%- else -%}
        {%- set previous = recorded_as_of() -%}
        {%- if previous -%}
            {%- set chosen, source = previous, "the warehouse's last successful run" -%}
        {%- else -%}
            {%- set chosen, source = run_started_at.strftime('%Y-%m-%d %H:%M:%S'), 'the start of this first run' -%}
        {%- endif -%}
    {%- endif -%}
    {%- do run_query(
        "insert into " ~ relation ~ " values ('" ~ invocation_id ~ "', cast('" ~ chosen ~ "' as timestamp), '"
        ~ source | replace("'", "''") ~ "', '" ~ flags.WHICH ~ "', cast('"
        ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp), null, null)"
    ) -%}
    {%- do log("as_of " ~ chosen ~ " UTC (from " ~ source ~ ")", info=true) -%}
{%- endmacro %}

{#- on-run-end: the invocation succeeded when nothing errored, failed or was skipped for it. -#}
{% macro finish_run_context(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set relation = run_context_relation() -%}
    {%- if relation is none -%}{{ return('') }}{%- endif -%}
    {%- set broken = results | map(attribute='status') | map('string') | select('in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
    {%- set finished = modules.datetime.datetime.now(modules.pytz.utc).strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- do run_query(record_run_finished(relation, finished, not broken)) -%}
{%- endmacro %}

{#- The statement that marks this invocation finished: an update of its row, or on Spark (Parquet
    tables cannot be updated) a second row with the same invocation id, finished_at and succeeded;
    readers look for `succeeded` rows only, so both read the same. -#}
{% macro record_run_finished(relation, finished, succeeded) -%}
    {{ return(adapter.dispatch('record_run_finished', 'audience_warehouse')(relation, finished, succeeded)) }}
{%- endmacro %}

{% macro default__record_run_finished(relation, finished, succeeded) -%}
    update {{ relation }} set finished_at = cast('{{ finished }}' as timestamp), succeeded = {{ 'true' if succeeded else 'false' }}
    where invocation_id = '{{ invocation_id }}'
{%- endmacro %}

{% macro spark__record_run_finished(relation, finished, succeeded) -%}
    insert into {{ relation }}
    select invocation_id, as_of, as_of_source, command, started_at, cast('{{ finished }}' as timestamp),
        {{ 'true' if succeeded else 'false' }}
    from {{ relation }}
    where invocation_id = '{{ invocation_id }}' and finished_at is null
{%- endmacro %}

{#- The latest time a landed date may carry and still be believed: var plausible_future_days after
    the later of as_of and the build's own wall-clock start. Later dates are export errors (a 2099
    opt-in, a 2030 order), not the future: staging flags them instead of letting them win. -#}
{% macro latest_plausible_time() -%}
    {%- set started = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp)" -%}
    {{ dbt.dateadd('day', var('plausible_future_days'), 'greatest(' ~ as_of() ~ ', ' ~ started ~ ')') }}
{%- endmacro %}

{#- `dbt run-operation rewind_membership_history --args '{to: "2026-06-01"}'`: undo what builds after
    `to` recorded in marts.segment_membership_history (intervals opened after it are deleted,
    intervals closed after it are reopened), so a build at `to` may follow. On purpose only: the
    history is otherwise append-only. -#}
{% macro rewind_membership_history(to) -%}
    {%- if target.type == 'spark' -%}
        {{ exceptions.raise_compiler_error("rewind_membership_history updates rows in place, which Parquet tables on Spark cannot: use a Delta or Iceberg table format, or rebuild the history in another warehouse") }}
    {%- endif -%}
    {%- set at = parse_as_of(to | string) -%}
    {%- set history = ref('segment_membership_history') -%}
    {%- do run_query("delete from " ~ history ~ " where entered_at > cast('" ~ at ~ "' as timestamp)") -%}
    {%- do run_query(
        "update " ~ history ~ " set exited_at = null where exited_at > cast('" ~ at ~ "' as timestamp)"
    ) -%}
    {%- do run_query(
        "update " ~ history ~ " set last_evaluated_at = cast('" ~ at ~ "' as timestamp)"
        ~ " where last_evaluated_at > cast('" ~ at ~ "' as timestamp)"
    ) -%}
    {%- do log(history ~ " rewound to " ~ at, info=true) -%}
{%- endmacro %}
