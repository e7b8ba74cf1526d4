{#- Use each folder's schema name as is (staging, marts, ...) rather than prefixing the target
    schema: analysts and BI tools query stable names like marts.customer_profiles. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
