{#- The attributes of a CRM contact as staging types them (base_crm__contacts), in order: what
    stg_crm__contacts keeps of each contact's latest version and int_contact_versions_tracked of
    every version. A new CRM attribute is added here once (and documented in both models' YAML). -#}
{% macro crm_contact_columns() -%}
    {{ return([
        'contact_id', 'email', 'is_email_valid', 'first_name', 'last_name', 'phone', 'birth_date',
        'gender', 'country_code', 'city', 'postal_code', 'income_band', 'loyalty_tier', 'signup_at',
        'email_opt_in', 'opt_in_at', 'tracking_consent',
    ]) }}
{%- endmacro %}
