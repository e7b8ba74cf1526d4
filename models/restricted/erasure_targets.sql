{{ config(materialized='view') }}

{#- The addresses of erased people that an ESP may still hold, for the erasure step to send to each
    ESP's deletion API: every address in the landing files (privacy requests, CRM, orders, e-mail
    events) and in our own sync state whose hash is a tombstone. A view over the files and the
    state, so the warehouse stores none of them; once the landing files are purged and the state
    forgotten, it is empty. -#}
{%- set sync_state = adapter.get_relation(
    database=target.get('database'), schema='activation', identifier='sync_state'
) if execute else none %}

with landed_addresses as (
    select {{ normalize_email('email') }} as email from {{ source('privacy', 'requests') }}
    union
    select {{ normalize_email('email') }} as email from {{ source('crm', 'contacts') }}
    union
    select {{ normalize_email('email') }} as email from {{ source('orders', 'orders') }}
    union
    select {{ normalize_email('email') }} as email from {{ source('email', 'events') }}
    {%- if sync_state is not none %}
        union
        select member_key as email from {{ sync_state }}
    {%- endif %}
),

{# Hashed in a projection first: a join on the hash expression itself (it reads the salt with a
    subquery) is planned as a nested loop. #}
hashed_addresses as (
    select
        email,
        {{ erasure_hash('email', 'email') }} as email_hash
    from landed_addresses
    where email is not null
)

select
    hashed_addresses.email,
    tombstones.identifier_hash as email_hash
from hashed_addresses
inner join {{ ref('erasure_tombstones') }} as tombstones
    on
        tombstones.identifier_type = 'email'
        and hashed_addresses.email_hash = tombstones.identifier_hash
