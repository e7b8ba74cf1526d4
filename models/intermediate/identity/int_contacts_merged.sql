{#- Every contact id known before as_of (CRM and shop) with the contact it merges into. Contacts
    merge only through an identifier that is `linked` yet shared (possible when
    identity_max_contacts_per_identifier is above 1); the smallest contact id of a group is its
    canonical one, found by var identity_merge_rounds rounds of label propagation. -#}
with known_contacts as (
    select distinct contact_id from {{ ref('int_contact_versions_tracked') }}
    union
    select distinct contact_id from {{ ref('stg_orders__orders') }}
    where contact_id is not null and {{ before_as_of('ordered_at') }}
),

shared_identifier_links as (
    select distinct
        links.identifier_type,
        links.identifier_value,
        links.contact_id
    from {{ ref('int_identity_links_collected') }} as links
    inner join {{ ref('int_identifiers_resolved') }} as resolved
        on
            links.identifier_type = resolved.identifier_type
            and links.identifier_value = resolved.identifier_value
    where resolved.resolution = 'linked' and resolved.linked_contacts > 1
),

contact_edges as (
    select distinct
        one_side.contact_id,
        other_side.contact_id as neighbour_contact_id
    from shared_identifier_links as one_side
    inner join shared_identifier_links as other_side
        on
            one_side.identifier_type = other_side.identifier_type
            and one_side.identifier_value = other_side.identifier_value
            and one_side.contact_id <> other_side.contact_id
),

round_0 as (
    select
        contact_id,
        contact_id as merge_label
    from known_contacts
),

{% for round_number in range(1, var('identity_merge_rounds') + 1) %}
    round_{{ round_number }} as (
        select
            current_round.contact_id,
            least(current_round.merge_label, coalesce(min(neighbours.merge_label), current_round.merge_label))
                as merge_label
        from round_{{ round_number - 1 }} as current_round
        left join contact_edges
            on current_round.contact_id = contact_edges.contact_id
        left join round_{{ round_number - 1 }} as neighbours
            on contact_edges.neighbour_contact_id = neighbours.contact_id
        group by current_round.contact_id, current_round.merge_label
    ),
{% endfor %}

final_round as (
    select * from round_{{ var('identity_merge_rounds') }}
)

select
    contact_id,
    merge_label as canonical_contact_id,
    {{ customer_key_for_contact('merge_label') }} as customer_key
from final_round
