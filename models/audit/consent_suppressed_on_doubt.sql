{#- Every consent fact suppressed on doubt, for a person to read and fix at the source: an
    unsubscribe, complaint, bounce or privacy request whose row staging could not fully parse, a
    CRM row that cannot be placed in time and does not say yes, an address in an unreadable landed
    line. Each keeps its person out of every audience until the row is fixed (and, for an
    unsubscribe, until an explicit later opt-in). -#}
select
    source_name,
    consent_source,
    doubt_reason,
    contact_id,
    email,
    landing_file,
    landing_row,
    {{ as_of() }} as as_of
from {{ ref('int_consent_events_collected') }}
where is_suppressed_on_doubt
