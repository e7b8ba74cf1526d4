{#- Every order known before as_of, as its latest version known then (int_order_versions_tracked:
    a refund recorded after as_of is not yet a refund), with the customer it belongs to and how
    that was decided: by contact id, by the e-mail of a known contact, as a guest, or not at all
    (no usable identity, or an e-mail shared by several contacts). -#}
with orders as (
    select *
    from {{ ref('int_order_versions_tracked') }}
    where is_current
),

by_contact as (
    {{ customer_keys_by('contact_id') }}
),

by_email as (
    {{ customer_keys_by('email') }}
)

select
    orders.order_id,
    coalesce(by_contact.customer_key, case when orders.contact_id is null then by_email.customer_key end)
        as customer_key,
    case
        when orders.contact_id is not null then 'contact_id'
        when by_email.resolution = 'linked' then 'email_of_contact'
        when by_email.resolution = 'guest' then 'guest_email'
        when by_email.resolution = 'ambiguous' then 'unattributed_shared_email'
        else 'unattributed_no_identity'
    end as attribution_method,
    orders.contact_id,
    orders.email,
    orders.ordered_at,
    orders.order_status,
    orders.is_purchase,
    orders.channel,
    orders.currency_code,
    orders.discount_reporting,
    orders.shipping_reporting,
    orders.total_reporting,
    coalesce(orders.discount_reporting, 0) > 0 as has_discount
from orders
left join by_contact
    on orders.contact_id = by_contact.contact_id
left join by_email
    on orders.email = by_email.email
