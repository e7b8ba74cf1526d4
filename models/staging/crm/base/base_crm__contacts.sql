{#- Every landed contact row, parsed, with the first rule it breaks (null when it is valid).
    stg_crm__contacts keeps the valid rows; quarantined_rows keeps the others. An opt-in that is
    neither yes nor no is not a reason to drop the version (an older, opted-in version would win):
    it stays null, which every consent rule downstream reads as "not opted in". -#}
with landed as (
    {{ landed_rows('crm', 'contacts') }}
),

parsed as (
    select
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        nullif({{ regexp_replace_all("coalesce(phone, '')", '[^0-9+]', '') }}, '') as phone,
        cast({{ parse_timestamp('birth_date') }} as date) as birth_date,
        {{ normalize_gender('gender') }} as gender,
        upper({{ clean_text('country') }}) as country_spelling,
        {{ clean_text('city') }} as city,
        upper({{ clean_text('postal_code') }}) as postal_code,
        lower({{ clean_text('income_band') }}) as income_band,
        lower({{ clean_text('loyalty_tier') }}) as loyalty_tier,
        {{ plausible_timestamp('signup_at') }} as signup_at,
        {{ parse_boolean('email_opt_in') }} as email_opt_in,
        {{ plausible_timestamp('opt_in_at') }} as opt_in_at,
        {{ parse_boolean('tracking_consent') }} as tracking_consent,
        {{ timestamp_columns('updated_at') }},
        nullif(concat_ws(
            ',',
            case when {{ given_but_invalid('email_opt_in', parse_boolean('email_opt_in')) }} then 'email_opt_in' end,
            case when {{ given_but_invalid('birth_date', parse_timestamp('birth_date')) }} then 'birth_date' end,
            case when {{ given_but_invalid('signup_at', plausible_timestamp('signup_at')) }} then 'signup_at' end,
            case when {{ given_but_invalid('opt_in_at', plausible_timestamp('opt_in_at')) }} then 'opt_in_at' end,
            case
                when {{ given_but_invalid('tracking_consent', parse_boolean('tracking_consent')) }}
                    then 'tracking_consent'
            end
        ), '') as unparsed_value_columns,
        {{ landing_lineage_columns() }}
    from landed
),

with_country as (
    select
        parsed.*,
        countries.country_code,
        nullif(concat_ws(
            ',',
            parsed.unparsed_value_columns,
            case when parsed.country_spelling is not null and countries.country_code is null then 'country' end
        ), '') as invalid_value_columns
    from parsed
    left join {{ ref('stg_reference__country_lookup') }} as countries
        on parsed.country_spelling = countries.spelling
),

checked as (
    select
        *,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(contact_id, landing_row_hash) as row_key,
        case
            when contact_id is null then 'missing_contact_id'
            {{ required_timestamp_rules('updated_at') }}
        end as rejection_rule
    from with_country
)

select
    *,
    case rejection_rule
        {{ required_timestamp_details('updated_at') }}
    end as rejection_detail
from checked
