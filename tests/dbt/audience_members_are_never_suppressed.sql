{#- Consent is law: no audience member may appear in the suppression list, by e-mail or by
    customer. Returns every offending member. One equality join per identifier, never one OR join:
    the check must stay a hash join at a million members. -#}
with members as (
    select
        destination,
        list_key,
        customer_key,
        email
    from {{ ref('audience_export') }}
)

{% for identifier in ['email', 'customer_key'] %}
    select
        members.destination,
        members.list_key,
        members.customer_key,
        suppressions.reason
    from members
    inner join {{ ref('suppressed_addresses') }} as suppressions
        on members.{{ identifier }} = suppressions.{{ identifier }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
