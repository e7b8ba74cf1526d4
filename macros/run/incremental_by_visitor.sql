{#- post-hook of an incremental model whose run rewrites some keys and leaves the others: the rows
    left with nothing to be rebuilt from are deleted, every row of `this` whose `key` has no row in
    `source_relation` meeting `condition` (on the alias `source`). Used by the models incremental by
    visitor (a visitor erased, its files gone, after an earlier as_of, now a bot) and by the stg_
    models (delete_unbacked_keys). After the run every other row is exact, so when `kept_measure`
    over `this` (count(*), or what its rows count) equals the source's rows meeting `condition`, no
    row is left to delete and the search (an anti-join of both tables) is skipped. -#}
{% macro delete_rows_no_longer_in(source_relation, key, condition, kept_measure='count(*)') -%}
    {%- set nothing_left = false -%}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set counts = run_query(
            "select (select coalesce(" ~ kept_measure ~ ", 0) from " ~ this ~ "), "
            ~ "(select count(*) from " ~ source_relation ~ " as source where " ~ condition ~ ")"
        ).rows[0] -%}
        {%- set nothing_left = counts[0] == counts[1] -%}
    {%- endif -%}
    {%- if target.type != 'duckdb' or nothing_left -%}
        select 1
    {%- else -%}
    delete from {{ this }} as kept
    where not exists (
        select 1
        from {{ source_relation }} as source
        where source.{{ key }} = kept.{{ key }} and {{ condition }}
    )
    {%- endif -%}
{%- endmacro %}

{#- Aggregates of a group of staged web events (columns event_id, _parsed_at, _valid_rows of
    stg_web__events) that change whenever the group's events change: one joins or leaves (count,
    ids), or is picked again from other landed copies (stg_ re-picks a key exactly when its count
    of valid copies or their latest parse changes: a new copy is parsed later than every stored
    one, a lost copy lowers the count). The ids are compared by an XOR of their 64-bit hashes. -#}
{% macro staged_events_fingerprint() -%}
    count(*) as events,
    max(_parsed_at) as parsed_at,
    sum(_valid_rows) as valid_rows,
    {{ event_ids_hash('event_id') }} as event_ids_hash
{%- endmacro %}

{% macro event_ids_hash(column) -%}
    {{ return(adapter.dispatch('event_ids_hash', 'audience_warehouse')(column)) }}
{%- endmacro %}

{% macro default__event_ids_hash(column) -%}
    bit_xor(xxhash64({{ column }}))
{%- endmacro %}

{% macro duckdb__event_ids_hash(column) -%}
    bit_xor(hash({{ column }}))
{%- endmacro %}
