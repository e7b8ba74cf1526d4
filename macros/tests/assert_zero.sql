{#- Fails with the offending rows when the column is not zero, e.g. rows a layer lost. -#}
{% test assert_zero(model, column_name) %}
    select *
    from {{ model }}
    where coalesce({{ column_name }}, -1) <> 0
{% endtest %}
