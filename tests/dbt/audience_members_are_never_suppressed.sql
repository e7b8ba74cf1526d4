{#- Consent is law: no audience member may appear in the suppression list, by e-mail or by
    customer. Returns every offending member. -#}
select
    members.destination,
    members.list_key,
    members.customer_key,
    members.email,
    suppressions.reason
from {{ ref('audience_members') }} as members
inner join {{ ref('audience_suppressions') }} as suppressions
    on
        members.email = suppressions.email
        or members.customer_key = suppressions.customer_key
