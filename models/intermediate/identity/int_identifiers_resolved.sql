{#- One row per identifier (e-mail, web device): how many CRM contacts it links and whether it
    may be used to merge and attribute (`linked`) or is a hub that would join unrelated people
    (`ambiguous`: more contacts than var identity_max_contacts_per_identifier). -#}
with links as (
    select
        identifier_type,
        identifier_value,
        count(distinct contact_id) as linked_contacts,
        min(contact_id) as first_contact_id,
        min(first_observed_at) as first_observed_at,
        max(last_observed_at) as last_observed_at,
        sum(observations) as observations
    from {{ ref('int_identity_links_collected') }}
    group by identifier_type, identifier_value
)

select
    identifier_type,
    identifier_value,
    linked_contacts,
    case
        when linked_contacts <= {{ var('identity_max_contacts_per_identifier') }} then 'linked'
        else 'ambiguous'
    end as resolution,
    case
        when linked_contacts <= {{ var('identity_max_contacts_per_identifier') }} then first_contact_id
    end as contact_id,
    first_observed_at,
    last_observed_at,
    observations
from links
