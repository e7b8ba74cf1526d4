{#- Every spelling we accept for a country (ISO alpha-2, alpha-3, English name, known aliases),
    upper-cased, mapped to its ISO alpha-2 code. -#}
with spellings as (
    select
        country_code as spelling,
        country_code
    from {{ ref('country_codes') }}
    union all
    select
        alpha3_code as spelling,
        country_code
    from {{ ref('country_codes') }}
    union all
    select
        country_name as spelling,
        country_code
    from {{ ref('country_codes') }}
    union all
    select
        alias as spelling,
        country_code
    from {{ ref('country_aliases') }}
)

select distinct
    upper(trim(spellings.spelling)) as spelling,
    spellings.country_code,
    countries.country_name
from spellings
inner join {{ ref('country_codes') }} as countries
    on spellings.country_code = countries.country_code
