{#- Consent is law: no audience member may appear in the suppression list, by e-mail or by
    customer. Returns every offending member. Two equality joins, never one OR join: the check
    must stay a hash join at a million members. -#}
with members as (
    select
        destination,
        list_key,
        customer_key,
        email
    from {{ ref('audience_export') }}
),

by_email as (
    select
        members.destination,
        members.list_key,
        members.customer_key,
        suppressions.reason
    from members
    inner join {{ ref('suppressed_addresses') }} as suppressions
        on members.email = suppressions.email
),

by_customer as (
    select
        members.destination,
        members.list_key,
        members.customer_key,
        suppressions.reason
    from members
    inner join {{ ref('suppressed_addresses') }} as suppressions
        on members.customer_key = suppressions.customer_key
)

select * from by_email
union all
select * from by_customer
