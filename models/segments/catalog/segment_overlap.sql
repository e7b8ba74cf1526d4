{#- Every pair of segments with their sizes, shared members and Jaccard index, to audit overlap
    before campaigns compete for the same customers. -#}
with membership as (
    select
        segment_name,
        customer_key
    from {{ ref('segment_membership') }}
),

sizes as (
    select
        segment_name,
        count(*) as members
    from membership
    group by segment_name
),

shared as (
    select
        first_segment.segment_name as segment_a,
        second_segment.segment_name as segment_b,
        count(*) as members_in_both
    from membership as first_segment
    inner join membership as second_segment
        on
            first_segment.customer_key = second_segment.customer_key
            and first_segment.segment_name < second_segment.segment_name
    group by first_segment.segment_name, second_segment.segment_name
),

pairs as (
    select
        first_size.segment_name as segment_a,
        second_size.segment_name as segment_b,
        first_size.members as members_a,
        second_size.members as members_b
    from sizes as first_size
    inner join sizes as second_size
        on first_size.segment_name < second_size.segment_name
)

select
    pairs.segment_a,
    pairs.segment_b,
    pairs.members_a,
    pairs.members_b,
    coalesce(shared.members_in_both, 0) as members_in_both,
    cast(
        coalesce(shared.members_in_both, 0)
        / nullif(pairs.members_a + pairs.members_b - coalesce(shared.members_in_both, 0), 0) as double
    ) as jaccard_index,
    {{ as_of() }} as as_of
from pairs
left join shared
    on pairs.segment_a = shared.segment_a and pairs.segment_b = shared.segment_b
