{#- The rule every stg_ model applies to its base model: of the valid rows (rejection_rule null),
    one per `key`, the first in `order_by` (a string, or a list of terms): the latest version, or
    the first copy of a re-sent event. With count_versions, each row also carries versions_landed,
    how many valid rows share its key. -#}
{% macro first_valid_rows(base_relation, key, order_by, count_versions=false) -%}
    {%- set ordering = order_by if order_by is string else order_by | join(', ') -%}
    select *
    from (
        select
            *,
            {%- if count_versions %}
            count(*) over (partition by {{ key }}) as versions_landed,
            {%- endif %}
            row_number() over (partition by {{ key }} order by {{ ordering }}) as key_rank
        from {{ base_relation }}
        where rejection_rule is null
    ) as ranked
    where key_rank = 1
{%- endmacro %}
