{#- delete+insert on Spark with Parquet tables (no DELETE nor MERGE there): the rows of the model
    replace the target's rows with the same unique_key and the others stay, as dbt-duckdb's
    delete+insert does. The table is rewritten through a staging copy (Spark cannot overwrite a
    table it reads in the same statement), so each run costs a full rewrite of the table: fine for
    the small incremental models here; a large one should partition (partition_by) and use
    insert_overwrite, or use Delta/Iceberg and `merge` (README "Running at cluster scale").

    dbt-spark's two macros below are not dispatched; these root-project versions take their place
    and hand every other strategy to the same logic as dbt-spark 1.11. -#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- set accepted = ['append', 'merge', 'insert_overwrite', 'microbatch', 'delete+insert'] -%}
    {%- if raw_strategy not in accepted -%}
        {{ exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy ~ ". Expected one of: " ~ accepted | join(', ')) }}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {{ exceptions.raise_compiler_error("Incremental strategy merge needs file_format delta, iceberg or hudi, not " ~ file_format) }}
    {%- endif -%}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint -%}
        {{ exceptions.raise_compiler_error("Incremental strategy " ~ raw_strategy ~ " cannot be used through a SQL endpoint") }}
    {%- endif -%}
    {{ return(raw_strategy) }}
{% endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'append' -%}
        {{ get_insert_into_sql(source, target) }}
    {%- elif strategy == 'insert_overwrite' -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- elif strategy == 'microbatch' -%}
        {%- if not config.get('partition_by') -%}
            {{ exceptions.raise_compiler_error("Incremental strategy microbatch on Spark needs partition_by") }}
        {%- endif -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- elif strategy == 'merge' -%}
        {{ get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates) }}
    {%- elif strategy == 'delete+insert' -%}
        {{ spark_delete_insert_sql(source, target, unique_key) }}
    {%- endif -%}
{% endmacro %}

{% macro spark_delete_insert_sql(source, target, unique_key) %}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error("delete+insert needs a unique_key: " ~ target) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set merged = target.incorporate(path={"identifier": target.identifier ~ '__dbt_merged'}) -%}
    {%- do run_query('drop table if exists ' ~ merged) -%}
    {%- do run_query(
        'create table ' ~ merged ~ ' using parquet as select ' ~ columns ~ ' from ' ~ target ~ ' as kept'
        ~ ' where not exists (select 1 from ' ~ source ~ ' as incoming where ' ~ spark_key_match(keys) ~ ')'
        ~ ' union all select ' ~ columns ~ ' from ' ~ source
    ) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ merged) -%}
    drop table if exists {{ merged }}
{% endmacro %}

{% macro spark_key_match(keys) -%}
    {%- for key in keys -%}
        incoming.{{ key }} = kept.{{ key }}{{ ' and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
