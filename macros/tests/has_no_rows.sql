{#- Fails (or warns, with severity: warn) with the model's rows when it has any: for audit models
    that list problems. -#}
{% test has_no_rows(model) %}
    select * from {{ model }}
{% endtest %}
