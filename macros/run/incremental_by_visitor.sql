{#- post-hook of a model incremental by visitor (int_web_events_attributed,
    int_web_sessions_sessionized): delete+insert by visitor replaces the visitors a run rewrites,
    so the rows of a visitor left with nothing to rewrite from (erased, its files gone, after an
    earlier as_of, now a bot) are deleted here: every row of `this` whose `key` has no row in
    `source_relation` meeting `condition` (on the alias `source`). -#}
{% macro delete_rows_no_longer_in(source_relation, key, condition='true') -%}
    {%- if target.type != 'duckdb' -%}
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
