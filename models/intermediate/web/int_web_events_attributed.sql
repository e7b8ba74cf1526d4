{{
    config(
        materialized=landing_materialization(),
        unique_key='visitor_id',
        post_hook="{{ delete_rows_no_longer_in(ref('stg_web__events'), 'event_id', before_as_of('source.event_at')) }}",
    )
}}
{#- Every web event before as_of with its visitor and customer. Anonymous browsing counts for the
    customer retroactively once the device logs in as one contact (`stitched`); a device shared by
    several contacts stitches nothing. An event is `usable` for profiling only when it is not bot
    traffic and its customer has tracking consent (per the contact's current CRM record).
    Attribution is decided per identity (visitor, contact, device): an event's is its identity's.
    Incremental on DuckDB, by visitor (docs/incremental_staging.md): a run rewrites every event of
    the visitors with an identity whose staged events changed (their count, latest parse, copies
    or ids) or that is attributed otherwise now (a login, a merge, a bot flag, tracking consent
    given or withdrawn): what a full build would hold, row for row. -#}
{{ require_batch_columns(['_attributed_at']) }}
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

{# Read apart from `events`, of which it needs four columns: a CTE read twice is materialized
   whole. Each identity's fingerprint says when its staged events changed (incremental runs). #}
identities as (
    select
        visitor_id,
        contact_id,
        anonymous_id,
        {{ staged_events_fingerprint() }}
    from (
        select
            {{ web_visitor_id() }} as visitor_id,
            contact_id,
            anonymous_id,
            event_id,
            _parsed_at,
            _valid_rows
        from {{ ref('stg_web__events') }}
        where {{ before_as_of('event_at') }}
    ) as staged
    group by visitor_id, contact_id, anonymous_id
),

identities_resolved as (
    select
        identities.*,
        coalesce(by_contact.customer_key, by_device.customer_key) as customer_key,
        case
            when by_contact.customer_key is not null then 'logged_in'
            when by_device.resolution = 'linked' then 'stitched'
            when by_device.resolution = 'ambiguous' then 'anonymous_shared_device'
            else 'anonymous'
        end as attribution_method,
        bots.is_bot
    from identities
    left join by_contact
        on identities.contact_id = by_contact.contact_id
    left join by_device
        on identities.anonymous_id = by_device.anonymous_id
    inner join {{ ref('int_web_visitors_bot_flagged') }} as bots
        on identities.visitor_id = bots.visitor_id
),

identities_attributed as (
    select
        identities_resolved.*,
        coalesce(tracking_consent.has_tracking_consent, false) as has_tracking_consent,
        (
            not identities_resolved.is_bot
            and identities_resolved.customer_key is not null
            and coalesce(tracking_consent.has_tracking_consent, false)
        ) as is_usable
    from identities_resolved
    left join tracking_consent
        on identities_resolved.customer_key = tracking_consent.customer_key
)

{%- if is_incremental() %},

identities_stored as (
    select
        visitor_id,
        contact_id,
        anonymous_id,
        customer_key,
        attribution_method,
        is_bot,
        has_tracking_consent,
        is_usable,
        {{ staged_events_fingerprint() }}
    from {{ this }}
    group by
        visitor_id,
        contact_id,
        anonymous_id,
        customer_key,
        attribution_method,
        is_bot,
        has_tracking_consent,
        is_usable
),

visitors_to_attribute as (
    select distinct coalesce(identities_attributed.visitor_id, identities_stored.visitor_id) as visitor_id
    from identities_attributed
    full outer join identities_stored
        on
            identities_attributed.visitor_id = identities_stored.visitor_id
            and identities_attributed.contact_id is not distinct from identities_stored.contact_id
            and identities_attributed.anonymous_id is not distinct from identities_stored.anonymous_id
    where
        identities_attributed.visitor_id is null
        or identities_stored.visitor_id is null
        or identities_stored.events <> identities_attributed.events
        or identities_stored.parsed_at <> identities_attributed.parsed_at
        or identities_stored.valid_rows <> identities_attributed.valid_rows
        or identities_stored.event_ids_hash <> identities_attributed.event_ids_hash
        or identities_stored.customer_key is distinct from identities_attributed.customer_key
        or identities_stored.attribution_method <> identities_attributed.attribution_method
        or identities_stored.is_bot <> identities_attributed.is_bot
        or identities_stored.has_tracking_consent <> identities_attributed.has_tracking_consent
        or identities_stored.is_usable <> identities_attributed.is_usable
)
{%- endif %}

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
    identities_attributed.customer_key,
    identities_attributed.attribution_method,
    identities_attributed.is_bot,
    identities_attributed.has_tracking_consent,
    identities_attributed.is_usable,
    events._parsed_at,
    events._valid_rows,
    {{ parse_batch_timestamp() }} as _attributed_at
from events
{% if is_incremental() %}
    inner join visitors_to_attribute
        on events.visitor_id = visitors_to_attribute.visitor_id
{% endif %}
inner join identities_attributed
    on
        events.visitor_id = identities_attributed.visitor_id
        and events.contact_id is not distinct from identities_attributed.contact_id
        and events.anonymous_id is not distinct from identities_attributed.anonymous_id
