{#- Who each customer is at each cutoff (int_customer_feature_cutoffs_joined): tenure since they
    were first known, age on the cutoff's date, and the country, loyalty tier and income band of
    the CRM version in effect at the cutoff (the latest written strictly before it). A customer
    with no version in effect yet has null attributes: a later version is never backfilled, since
    what it says (a tier earned by later spend, a record created at a later purchase) is the
    future. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

versions_in_effect as (
    select
        population.customer_key,
        population.feature_as_of,
        versions.country_code,
        versions.loyalty_tier,
        versions.income_band,
        versions.birth_date,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by versions.valid_from desc
        ) as version_rank
    from population
    inner join {{ ref('int_contact_versions_tracked') }} as versions
        on
            population.contact_id = versions.contact_id
            and population.feature_as_of > versions.valid_from
),

attributes as (
    select * from versions_in_effect
    where version_rank = 1
)

select
    population.customer_key,
    population.feature_as_of,
    cast({{ days_between('population.first_known_at', 'population.feature_as_of') }} as double) as tenure_days,
    cast({{ age_in_years('attributes.birth_date', 'population.cutoff_date') }} as double)
        as age_years,
    attributes.country_code as country,
    attributes.loyalty_tier,
    attributes.income_band
from population
left join attributes
    on population.customer_key = attributes.customer_key and population.feature_as_of = attributes.feature_as_of
