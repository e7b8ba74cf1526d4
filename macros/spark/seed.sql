{#- Seeds on Spark with every value written as an escaped literal: dbt-spark's session connection
    pastes bindings into the SQL unescaped, so a seed value with a quote (rfm_segment_map's
    "Can't Lose") breaks the statement, and an empty cell becomes the text 'None'. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {{ spark_seed_literal(row[loop.index0], type) }}{{ ',' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_seed_literal(value, type) -%}
    {%- if value is none -%}
        cast(null as {{ type }})
    {%- else -%}
        {%- set text = value.isoformat() if value is not string and value.isoformat is defined else value | string -%}
        cast('{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
    {%- endif -%}
{%- endmacro %}
