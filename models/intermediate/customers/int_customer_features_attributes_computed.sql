{#- Who each customer is at each cutoff (int_customer_feature_cutoffs_joined): tenure since they
    were first known, age on the cutoff's date, and the country, loyalty tier and income band of
    the CRM version in effect at the cutoff. For a customer known before the first CRM version we
    hold, that first version: slowly changing attributes such as country would otherwise be
    missing only at old cutoffs, and the model would learn a difference that scoring never sees. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

attributes_ranked as (
    select
        population.customer_key,
        population.feature_as_of,
        versions.country_code,
        versions.loyalty_tier,
        versions.income_band,
        versions.birth_date,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by
                case when versions.valid_from <= population.feature_as_of then 0 else 1 end,
                case when versions.valid_from <= population.feature_as_of then versions.valid_from end desc,
                versions.valid_from
        ) as version_rank
    from population
    inner join {{ ref('int_contact_versions_tracked') }} as versions
        on population.contact_id = versions.contact_id
),

attributes as (
    select * from attributes_ranked
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
