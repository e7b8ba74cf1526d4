{#- Every web event before as_of with its visitor and customer. Anonymous browsing counts for the
    customer retroactively once the device logs in as one contact (`stitched`); a device shared by
    several contacts stitches nothing. An event is `usable` for profiling only when it is not bot
    traffic and its customer has tracking consent (per the contact's current CRM record). -#}
with events as (
    select
        *,
        {{ web_visitor_id() }} as visitor_id
    from {{ ref('stg_web__events') }}
    where {{ before_as_of('event_at') }}
),

by_contact as (
    {{ customer_keys_by('contact_id') }}
),

by_device as (
    {{ customer_keys_by('anonymous_id') }}
),

tracking_consent as (
    select
        merged.customer_key,
        bool_and(coalesce(versions.tracking_consent, false)) as has_tracking_consent
    from {{ ref('int_contacts_merged') }} as merged
    inner join {{ ref('int_contact_versions_tracked') }} as versions
        on merged.contact_id = versions.contact_id and versions.is_current
    group by merged.customer_key
),

attributed as (
    select
        events.event_id,
        events.visitor_id,
        events.anonymous_id,
        events.contact_id,
        events.event_type,
        events.event_at,
        events.page_url,
        events.product_id,
        events.category,
        events.device_type,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        coalesce(by_contact.customer_key, by_device.customer_key) as customer_key,
        case
            when by_contact.customer_key is not null then 'logged_in'
            when by_device.resolution = 'linked' then 'stitched'
            when by_device.resolution = 'ambiguous' then 'anonymous_shared_device'
            else 'anonymous'
        end as attribution_method,
        bots.is_bot
    from events
    left join by_contact
        on events.contact_id = by_contact.contact_id
    left join by_device
        on events.anonymous_id = by_device.anonymous_id
    inner join {{ ref('int_web_visitors_bot_flagged') }} as bots
        on events.visitor_id = bots.visitor_id
)

select
    attributed.*,
    coalesce(tracking_consent.has_tracking_consent, false) as has_tracking_consent,
    (
        not attributed.is_bot
        and attributed.customer_key is not null
        and coalesce(tracking_consent.has_tracking_consent, false)
    ) as is_usable
from attributed
left join tracking_consent
    on attributed.customer_key = tracking_consent.customer_key
