{#- Incremental staging of the event-heavy landing tables (web and e-mail events, orders and their
    lines): on DuckDB a base model parses only the landing files it has not parsed yet, and its stg_
    model re-picks only the keys whose valid rows changed. Every run still ends with exactly what a
    full build on the same files would hold: files rewritten since they were parsed (`make
    purge-landing`), files holding a row rejected as implausibly in the future that the limit,
    moving with time, now admits, and files of order lines whose order changed since are parsed
    again; rows of files no longer landed and rows of people erased since are deleted. On other
    engines the models are plain tables, rebuilt every run (parse_batch_columns, the column set,
    stays the same). `--full-refresh` rebuilds. -#}

{#- The materialization of an incremental staging model: incremental on DuckDB (delete+insert),
    a table elsewhere. -#}
{% macro landing_materialization() -%}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{%- endmacro %}

{#- When this build parsed a row: every row of one landing file carries the same value, and a stg_
    row the latest of its key's valid rows (what tells an incremental stg_ model which keys to
    re-pick). -#}
{% macro parse_batch_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- Stops an incremental run on a table built before it was incremental (without _parsed_at): its
    rows cannot say when they were parsed, so it must be rebuilt once. -#}
{% macro require_parse_batch_columns() -%}
    {{- require_batch_columns(['_parsed_at']) -}}
{%- endmacro %}

{#- Stops an incremental run of `this` when its table lacks one of the `columns` an incremental run
    reads (it was built before the model was incremental): the error names the command that
    rebuilds it once. Nothing to check in a full build, nor in a dbt unit test (where `this` is the
    name of its fixture, which has the columns the test gives). -#}
{% macro require_batch_columns(columns) -%}
    {%- if execute and this is not string and is_incremental() -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set missing = columns | reject('in', names) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                this ~ " was built before it was incremental (no " ~ missing | join(", ") ~ " column): "
                ~ "rebuild it once with `dbt run --full-refresh --select " ~ this.identifier ~ "+` "
                ~ "(or delete the warehouse file)"
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Filter of landed_rows in an incremental run: the files of the table (landing.landing_files) that
    this model has not parsed, that changed on disk after it parsed them, that hold a row it
    rejected as implausibly in the future whose time (`time_column`) is no longer beyond this run's
    limit (latest_plausible_time): a full build would accept it now, or that `stale_files` (a query
    of `_landing_file` over {{ this }}) names: files holding a row whose verdict or values depend on
    another model that changed since (an order line on its order, stale_order_line_files).
    In a build the files are asked for first and named as constants: DuckDB then reads those files
    only (the landing views are one select per file), where a subquery made it read every file of
    the table. A dbt unit test, whose inputs are fixtures, keeps the subquery. -#}
{% macro landing_files_to_parse(source_name, table_name, time_column=none, stale_files=none) -%}
    {{- require_parse_batch_columns() -}}
    {%- set files_query = landing_files_to_parse_query(source_name, table_name, time_column, stale_files) -%}
    {%- if execute and this is not string -%}
        {%- set files = run_query(files_query).columns[0].values() | list -%}
        {%- if files -%}
            _landing_file in (
                {%- for file in files %}
                '{{ file | replace("'", "''") }}'{{ "," if not loop.last }}
                {%- endfor %}
            )
        {%- else -%}
            false
        {%- endif -%}
    {%- else -%}
        _landing_file in ({{ files_query }})
    {%- endif -%}
{%- endmacro %}

{% macro landing_files_to_parse_query(source_name, table_name, time_column, stale_files) -%}
    select landed_files.file_path
    from {{ source('landing_audit', 'landing_files') }} as landed_files
    left join (
        select
            _landing_file,
            min(_parsed_at) as parsed_at
            {%- if time_column is not none %},
            bool_or(
                rejection_rule like 'implausible_future%'
                and {{ time_column }} <= {{ latest_plausible_time() }}
            ) as awaits_recheck
            {%- endif %}
        from {{ this }}
        group by _landing_file
    ) as parsed_files
        on landed_files.file_path = parsed_files._landing_file
    where
        landed_files.source = '{{ source_name }}'
        and landed_files.table_name = '{{ table_name }}'
        and (
            parsed_files._landing_file is null
            or landed_files.modified_at > parsed_files.parsed_at
            {%- if time_column is not none %}
            or parsed_files.awaits_recheck
            {%- endif %}
            {%- if stale_files is not none %}
            or landed_files.file_path in ({{ stale_files }})
            {%- endif %}
        )
{%- endmacro %}

{#- post-hooks of an incremental base model: rows of files no longer landed go; so do rows parsed
    before their file was last rewritten (a file rewritten with no data rows parses into nothing, so
    delete+insert by file would keep its old rows; a rewritten file with rows was parsed again in
    this run, after its change); and so do the rows of people erased since they were parsed (rows
    parsed in this run were checked on arrival). The identifiers are the base model's own columns,
    which hold the landed values normalized the way the tombstones hash them (landed_rows,
    normalized_identifier). The erased rows are looked for only when a tombstone was recorded after
    the last earlier batch was parsed: every earlier row has been checked against every older one
    (on arrival, or by this hook in a run that found a newer one), and hashing them all again took
    most of an incremental run with nothing new. Each kind of identifier is hashed once per distinct
    value, not once per row, and the hashes are joined as a column (a hash computed in the join
    condition made DuckDB evaluate the salt's subquery per pair: minutes). At 100k contacts the
    5,956,649 web events hold 72,132 contact ids and 106,267 devices: 0.3 s where hashing every row
    took 6.1 s, alone on the machine. -#}
{% macro delete_unlanded_and_erased_rows(source_name, table_name) -%}
    {%- if target.type != 'duckdb' -%}
        select 1
    {%- else -%}
    {%- set identifiers = var('landing_identifiers').get(source_name ~ '.' ~ table_name, {}) -%}
    {%- set columns = {} -%}
    {%- for identifier_type, column in identifiers.items() -%}
        {%- do columns.update({identifier_type: column}) -%}
    {%- endfor -%}
    delete from {{ this }} as parsed
    where not exists (
        select 1
        from {{ source('landing_audit', 'landing_files') }} as landed_files
        where
            landed_files.source = '{{ source_name }}'
            and landed_files.table_name = '{{ table_name }}'
            and landed_files.file_path = parsed._landing_file
            and coalesce(landed_files.modified_at <= parsed._parsed_at, true)
    );
    {%- if columns and tombstones_since_last_batch() %}
    {%- for identifier_type, column in columns.items() %}
    delete from {{ this }} as parsed
    where
        parsed._parsed_at < {{ parse_batch_timestamp() }}
        and parsed.{{ column }} in (
            select kept_values.identifier_value
            from (
                select
                    identifier_value,
                    {{ erasure_hash(identifier_type, 'identifier_value') }} as identifier_hash
                from (
                    select distinct {{ column }} as identifier_value
                    from {{ this }}
                    where {{ column }} is not null and _parsed_at < {{ parse_batch_timestamp() }}
                ) as distinct_values
            ) as kept_values
            inner join {{ ref('erasure_tombstones') }} as tombstones
                on kept_values.identifier_hash = tombstones.identifier_hash
        ){{ ";" if not loop.last }}
    {%- endfor -%}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- post-hook of an incremental stg_ model: keys none of whose rows is valid any more (erased, or
    their files gone) go. After the run every key still backed holds its count of valid rows
    (_valid_rows), so when those add up to the base's valid rows no key is left unbacked and the
    search is skipped (delete_rows_no_longer_in). -#}
{% macro delete_unbacked_keys(base_relation, key) -%}
    {{- delete_rows_no_longer_in(base_relation, key, 'source.rejection_rule is null', 'sum(_valid_rows)') -}}
{%- endmacro %}

{#- Whether the valid rows of `base_relation` (those parsed by the time `parsed_by`, a timestamp
    literal, when given) number exactly as many as the staged keys of `this` count in _valid_rows. -#}
{% macro valid_rows_all_staged(base_relation, parsed_by=none) -%}
    {%- set counts = run_query(
        "select (select count(*) from " ~ base_relation ~ " where rejection_rule is null"
        ~ (" and _parsed_at <= " ~ parsed_by if parsed_by is not none else "") ~ "), "
        ~ "(select coalesce(sum(_valid_rows), 0) from " ~ this ~ ")"
    ).rows[0] -%}
    {{ return(counts[0] == counts[1]) }}
{%- endmacro %}

{#- Filter of first_valid_rows in an incremental run: the keys whose valid rows differ from what the
    staged row was picked from (a new or re-parsed row: a later _parsed_at; a row gone: fewer).
    Rows parsed after the latest _parsed_at the staged keys hold are new to this model; when the
    valid rows parsed before it still number what the staged keys count (none went since), the
    keys to re-pick are those of the new rows, found without comparing every key (the usual
    increment: files added, nothing erased or rewritten). -#}
{% macro keys_to_repick(base_relation, key) -%}
    {{- require_parse_batch_columns() -}}
    {%- set staged_until = none -%}
    {%- if execute and this is not string -%}
        {%- set latest = run_query("select cast(max(_parsed_at) as varchar) from " ~ this).rows[0][0] -%}
        {%- if latest is not none -%}
            {%- set latest_literal = "cast('" ~ latest ~ "' as timestamp)" -%}
            {%- if valid_rows_all_staged(base_relation, latest_literal) -%}
                {%- set staged_until = latest_literal -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if staged_until is not none %}
    {{ key }} in (
        select {{ key }}
        from {{ base_relation }}
        where rejection_rule is null and _parsed_at > {{ staged_until }}
    )
    {%- else %}
    {{ key }} in (
        select base_keys.{{ key }}
        from (
            select
                {{ key }},
                count(*) as _valid_rows,
                max(_parsed_at) as _parsed_at
            from {{ base_relation }}
            where rejection_rule is null
            group by {{ key }}
        ) as base_keys
        left join {{ this }} as staged
            on base_keys.{{ key }} = staged.{{ key }}
        where
            staged.{{ key }} is null
            or staged._valid_rows <> base_keys._valid_rows
            or staged._parsed_at <> base_keys._parsed_at
    )
    {%- endif -%}
{%- endmacro %}

{#- Whether privacy.erasure_tombstones holds a tombstone recorded after the last batch of `this`
    parsed before this run (tombstones and batches are both stamped with their dbt invocation's
    start). False when no earlier batch exists. Asked at execution time, by a post-hook. -#}
{% macro tombstones_since_last_batch() -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ ref('erasure_tombstones') ~ " where recorded_at > ("
        ~ "select max(_parsed_at) from " ~ this ~ " where _parsed_at < " ~ parse_batch_timestamp() ~ ")"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
