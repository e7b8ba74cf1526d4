{#- Every usable add-to-cart before as_of with what followed it: the customer's first purchase
    after it, so that "no purchase within N hours" is a comparison decided only once N hours have
    passed, and the first removal of the same product from the cart. -#}
with run_parameters as (
    select {{ as_of() }} as as_of
),

carts as (
    select
        event_id,
        customer_key,
        product_id,
        category,
        event_at as added_at
    from {{ ref('int_web_events_attributed') }}
    where is_usable and event_type = 'add_to_cart'
),

removals as (
    select
        customer_key,
        product_id,
        event_at as removed_at
    from {{ ref('int_web_events_attributed') }}
    where is_usable and event_type = 'remove_from_cart'
),

next_purchase as (
    select
        carts.event_id,
        min(signals.purchased_at) as next_purchased_at
    from carts
    inner join {{ ref('int_purchase_signals_unioned') }} as signals
        on carts.customer_key = signals.customer_key and carts.added_at < signals.purchased_at
    group by carts.event_id
),

next_removal as (
    select
        carts.event_id,
        min(removals.removed_at) as next_removed_at
    from carts
    inner join removals
        on
            carts.customer_key = removals.customer_key
            and carts.product_id = removals.product_id
            and carts.added_at < removals.removed_at
    group by carts.event_id
)

select
    carts.event_id,
    carts.customer_key,
    carts.product_id,
    carts.category,
    carts.added_at,
    next_purchase.next_purchased_at,
    {{ hours_between('carts.added_at', 'next_purchase.next_purchased_at') }} as hours_to_next_purchase,
    {{ hours_between('carts.added_at', 'run_parameters.as_of') }} as hours_observed,
    next_removal.next_removed_at
from carts
cross join run_parameters
left join next_purchase
    on carts.event_id = next_purchase.event_id
left join next_removal
    on carts.event_id = next_removal.event_id
