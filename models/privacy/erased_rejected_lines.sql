{{ config(materialized='view') }}

{#- The lines of landing.rejected_lines that name an erased person: any token of the raw line (split
    at anything that cannot be part of an id or an address) whose hash, as an e-mail, a contact id
    or a web device, is a tombstone. A view, so it stores nothing: quarantined_rows blanks these
    lines, and the erasure step blanks them in landing.rejected_lines itself. -#}
with line_tokens as (
    {{ rejected_line_tokens() }}
),

hashed_tokens as (
    select
        file_path,
        line_number,
        {{ erasure_hash_columns({
            'email': normalize_email('token'),
            'contact_id': clean_text('token'),
            'anonymous_id': clean_text('token'),
        }) }}
    from line_tokens
)

select distinct
    hashed_tokens.file_path,
    hashed_tokens.line_number
from hashed_tokens
where {{ has_tombstone(['email', 'contact_id', 'anonymous_id'], 'hashed_tokens') }}
