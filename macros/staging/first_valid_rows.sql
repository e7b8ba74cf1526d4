{#- The rule every stg_ model applies to its base model: of the valid rows (rejection_rule null),
    one per `key`, the first in `order_by` (a string, or a list of terms): the latest version, or
    the first copy of a re-sent event. With count_versions, each row also carries versions_landed,
    how many valid rows share its key. With parse_batch (the incremental stg_ models, whose base
    models carry _parsed_at), each row carries _valid_rows and _parsed_at (the count and the latest
    parse of its key's valid rows), and an incremental run re-picks only the keys whose valid rows
    changed (keys_to_repick): the rule is applied to all of a key's rows, old and new, so a run
    picks exactly what a full build would. -#}
{% macro first_valid_rows(base_relation, key, order_by, count_versions=false, parse_batch=false) -%}
    {%- set ordering = order_by if order_by is string else order_by | join(', ') -%}
    select *
    from (
        select
            *,
            {%- if count_versions %}
            count(*) over (partition by {{ key }}) as versions_landed,
            {%- endif %}
            {%- if parse_batch %}
            count(*) over (partition by {{ key }}) as _valid_rows,
            max(_parsed_at) over (partition by {{ key }}) as _key_parsed_at,
            {%- endif %}
            row_number() over (partition by {{ key }} order by {{ ordering }}) as key_rank
        from {{ base_relation }}
        where
            rejection_rule is null
            {%- if parse_batch and this is not none and is_incremental() %}
            and {{ keys_to_repick(base_relation, key) }}
            {%- endif %}
    ) as ranked
    where key_rank = 1
{%- endmacro %}
