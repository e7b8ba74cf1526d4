{#- What each customer prefers at each cutoff (int_customer_feature_cutoffs_joined), from usable web
    events and purchases on days before the cutoff's date: the device with the most events, and
    the category of highest time-decayed interest (rounded to 6 decimals so that summation order
    never changes the ranking); ties go to the first name in alphabetical order. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

device_ranks as (
    select
        population.customer_key,
        population.feature_as_of,
        devices.device_type,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by sum(devices.events) desc, devices.device_type
        ) as device_rank
    from population
    inner join {{ ref('int_customer_devices_daily') }} as devices
        on population.customer_key = devices.customer_key and population.cutoff_date > devices.activity_date
    group by population.customer_key, population.feature_as_of, devices.device_type
),

category_ranks as (
    select
        population.customer_key,
        population.feature_as_of,
        interest.category,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by
                round(
                    sum(
                        interest.weighted_interest
                        * {{ decay_weight('interest.activity_date', 'population.cutoff_date') }}
                    ),
                    6
                ) desc,
                interest.category
        ) as category_rank
    from population
    inner join {{ ref('int_customer_category_interest_daily') }} as interest
        on population.customer_key = interest.customer_key and population.cutoff_date > interest.activity_date
    group by population.customer_key, population.feature_as_of, interest.category
)

select
    population.customer_key,
    population.feature_as_of,
    device_ranks.device_type as preferred_device,
    category_ranks.category as favourite_category
from population
left join device_ranks
    on
        population.customer_key = device_ranks.customer_key
        and population.feature_as_of = device_ranks.feature_as_of
        and device_ranks.device_rank = 1
left join category_ranks
    on
        population.customer_key = category_ranks.customer_key
        and population.feature_as_of = category_ranks.feature_as_of
        and category_ranks.category_rank = 1
