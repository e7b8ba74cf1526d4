{{ config(materialized='view') }}

{#- The lines of landing.rejected_lines that name an erased person: any token of the raw line (split
    at anything that cannot be part of an id or an address) whose hash, as an e-mail, a contact id
    or a web device, is a tombstone. A view, so it stores nothing: quarantined_rows blanks these
    lines, and the erasure step blanks them in landing.rejected_lines itself. -#}
with line_tokens as (
    {{ rejected_line_tokens() }}
)

select distinct
    line_tokens.file_path,
    line_tokens.line_number
from line_tokens
where {{ is_erased({
    'email': normalize_email('line_tokens.token'),
    'contact_id': clean_text('line_tokens.token'),
    'anonymous_id': clean_text('line_tokens.token'),
}) }}
