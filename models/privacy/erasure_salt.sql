{{
    config(
        materialized='incremental',
        full_refresh=false,
        on_schema_change='fail',
        post_hook="{{ install_erasure_hash_function(this) }}",
    )
}}

{#- The warehouse's own random salt for erasure tombstones: drawn at the first build and kept for
    good (full_refresh is disabled), so a tombstone written today still matches an address that
    arrives next year. Never published. -#}
{% if is_incremental() %}
    select salt from {{ this }}
    where false
{% else %}
    select {{ random_salt() }} as salt
{% endif %}
