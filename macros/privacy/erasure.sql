{#- Erasure (right to be forgotten) in SQL: the warehouse keeps no identifier of an erased person,
    only tombstones — a SHA-256 of the warehouse's own random salt (privacy.erasure_salt, never
    published), the identifier's kind and its normalized value — so a person who reappears in a
    later export is recognized by hashing what arrives, and dropped before staging. -#}

{#- The tombstone hash of one identifier; `value_expression` must already be normalized the way
    staging normalizes that kind (normalized_identifier below). -#}
{% macro erasure_hash(identifier_type, value_expression) -%}
    {{ erasure_hash_expression("'" ~ identifier_type ~ "'", value_expression, ref('erasure_salt')) }}
{%- endmacro %}

{#- The one definition of the tombstone hash, for SQL expressions of the kind and the value. The
    erasure_salt model also installs it in the warehouse as the function privacy.erasure_hash, so
    the Python steps that purge residue match exactly what dbt matched. -#}
{% macro erasure_hash_expression(type_expression, value_expression, salt_relation) -%}
    {{ return(adapter.dispatch('erasure_hash_expression', 'audience_warehouse')(type_expression, value_expression, salt_relation)) }}
{%- endmacro %}

{% macro default__erasure_hash_expression(type_expression, value_expression, salt_relation) -%}
    sha2(concat((select salt from {{ salt_relation }}), ':', {{ type_expression }}, ':', {{ value_expression }}), 256)
{%- endmacro %}

{% macro duckdb__erasure_hash_expression(type_expression, value_expression, salt_relation) -%}
    sha256((select salt from {{ salt_relation }}) || ':' || {{ type_expression }} || ':' || {{ value_expression }})
{%- endmacro %}

{#- post-hook of erasure_salt: the hash as a warehouse function, privacy.erasure_hash(kind, value). -#}
{% macro install_erasure_hash_function(salt_relation) -%}
    {{ return(adapter.dispatch('install_erasure_hash_function', 'audience_warehouse')(salt_relation)) }}
{%- endmacro %}

{% macro default__install_erasure_hash_function(salt_relation) -%}
    select 1
{%- endmacro %}

{#- Spark 4's SQL functions are the equivalent of DuckDB's macros. -#}
{% macro spark__install_erasure_hash_function(salt_relation) -%}
    create or replace function {{ salt_relation.schema }}.erasure_hash(identifier_type string, identifier_value string)
    returns string
    return {{ erasure_hash_expression('identifier_type', 'identifier_value', salt_relation) }}
{%- endmacro %}

{% macro duckdb__install_erasure_hash_function(salt_relation) -%}
    create or replace macro {{ salt_relation.schema }}.erasure_hash(identifier_type, identifier_value) as
    {{ erasure_hash_expression('identifier_type', 'identifier_value', salt_relation) }}
{%- endmacro %}

{#- post-hook of erasure_tombstones: privacy.is_erased(kind, raw value), true when the value, normalized
    the way staging normalizes that kind, has a tombstone — what `make purge-landing` asks of every
    landed row. -#}
{% macro install_erasure_match_function(tombstones_relation) -%}
    {{ return(adapter.dispatch('install_erasure_match_function', 'audience_warehouse')(tombstones_relation)) }}
{%- endmacro %}

{% macro default__install_erasure_match_function(tombstones_relation) -%}
    select 1
{%- endmacro %}

{#- Spark 4 inlines the function's IN subquery as a hash join, as DuckDB does its macro's. -#}
{% macro spark__install_erasure_match_function(tombstones_relation) -%}
    create or replace function {{ tombstones_relation.schema }}.is_erased(identifier_type string, raw_value string)
    returns boolean
    return {{ erasure_match_expression(tombstones_relation) }}
{%- endmacro %}

{% macro duckdb__install_erasure_match_function(tombstones_relation) -%}
    create or replace macro {{ tombstones_relation.schema }}.is_erased(identifier_type, raw_value) as
    {{ erasure_match_expression(tombstones_relation) }}
{%- endmacro %}

{#- The body of privacy.is_erased on every engine. -#}
{% macro erasure_match_expression(tombstones_relation) -%}
    {{ tombstones_relation.schema }}.erasure_hash(
        identifier_type,
        case
            when identifier_type = 'email' then {{ normalized_identifier('email', 'raw_value') }}
            else {{ normalized_identifier('contact_id', 'raw_value') }}
        end
    ) in (select identifier_hash from {{ tombstones_relation }})
{%- endmacro %}

{#- A fresh random salt, drawn once per warehouse. -#}
{% macro random_salt() -%}
    {{ return(adapter.dispatch('random_salt', 'audience_warehouse')()) }}
{%- endmacro %}

{% macro default__random_salt() -%}
    concat(uuid(), uuid())
{%- endmacro %}

{% macro duckdb__random_salt() -%}
    cast(gen_random_uuid() as varchar) || cast(gen_random_uuid() as varchar)
{%- endmacro %}

{#- One tombstone hash column per identifier (a dict of kind -> normalized expression), named
    _erasure_hash_<kind>: hashed once per row in a projection, and not at all (null) while no one has
    been erased. -#}
{% macro erasure_hash_columns(identifiers) -%}
    {%- for identifier_type, expression in identifiers.items() %}
    case
        when (select count(*) from {{ ref('erasure_tombstones') }}) > 0
            then {{ erasure_hash(identifier_type, expression) }}
    end as _erasure_hash_{{ identifier_type }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- True when any hash column that erasure_hash_columns made on `relation` is a tombstone. One
    equality lookup per kind, each planned as a hash join: an IN list or an OR inside one correlated
    subquery is planned as a nested loop that hashes every row once per tombstone (hours at small). -#}
{% macro has_tombstone(identifier_types, relation) -%}
    (
        {%- for identifier_type in identifier_types %}
        exists (
            select 1
            from {{ ref('erasure_tombstones') }} as tombstones
            where tombstones.identifier_hash = {{ relation }}._erasure_hash_{{ identifier_type }}
        ){{ " or" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The rows of a landing source that staging may read: every landed row (all columns as text, plus
    its file and position) with the row as JSON for quarantine, except the rows of erased people,
    recognized by the columns var landing_identifiers names for the table (kind: column). Every
    base model starts here; an incremental one reads only the files it has to parse, and names the
    column that its implausible-future rule checks (`time_column`) and the files whose rows depend
    on a model that changed since (`stale_files`, macros/staging/incremental_landing.sql). -#}
{% macro landed_rows(source_name, table_name, time_column=none, stale_files=none) -%}
    {%- set identifiers = var('landing_identifiers').get(source_name ~ '.' ~ table_name, {}) -%}
    {%- set normalized = {} -%}
    {%- for identifier_type, column in identifiers.items() -%}
        {%- do normalized.update({identifier_type: normalized_identifier(identifier_type, column)}) -%}
    {%- endfor -%}
    select landed.*
    from (
        select
            unhashed.*
            {%- if normalized %},
            {{ erasure_hash_columns(normalized) }}
            {%- endif %}
        from (
            select
                *,
                {{ landed_row_json(source(source_name, table_name)) }} as landed_row
            from {{ source(source_name, table_name) }}
            {%- if this is not none and is_incremental() %}
            where {{ landing_files_to_parse(source_name, table_name, time_column, stale_files) }}
            {%- endif %}
        ) as unhashed
    ) as landed
    {%- if normalized %}
    where not {{ has_tombstone(normalized.keys(), 'landed') }}
    {%- endif %}
{%- endmacro %}

{#- How each kind of identifier is normalized before hashing, applied to a raw landed column. -#}
{% macro normalized_identifier(identifier_type, column) -%}
    {%- if identifier_type == 'email' -%}
        {{ normalize_email(column) }}
    {%- else -%}
        {{ clean_text(column) }}
    {%- endif -%}
{%- endmacro %}

{#- One row per token of every rejected landing line: (file_path, line_number, token). -#}
{% macro rejected_line_tokens() -%}
    {{ return(adapter.dispatch('rejected_line_tokens', 'audience_warehouse')()) }}
{%- endmacro %}

{% macro default__rejected_line_tokens() -%}
    select
        file_path,
        line_number,
        explode(split(raw_line, {{ spark_string("[^A-Za-z0-9._%+@'-]+") }})) as token
    from {{ source('landing_audit', 'rejected_lines') }}
    where raw_line is not null
{%- endmacro %}

{% macro duckdb__rejected_line_tokens() -%}
    select
        file_path,
        line_number,
        unnest(regexp_split_to_array(raw_line, '[^A-Za-z0-9._%+@''-]+')) as token
    from {{ source('landing_audit', 'rejected_lines') }}
    where raw_line is not null
{%- endmacro %}

{#- The values of `identifier_type` in the `relations` (CTEs or tables with a column of that name)
    that already have a tombstone in `tombstones_relation`: a contact or address that lands again
    after its erasure is erased again, whole. -#}
{% macro tombstoned_again(identifier_type, relations, tombstones_relation) -%}
    select people.{{ identifier_type }}
    from (
        select
            distinct_people.{{ identifier_type }},
            {{ erasure_hash(identifier_type, 'distinct_people.' ~ identifier_type) }} as identifier_hash
        from (
            {%- for relation in relations %}
                select {{ identifier_type }} from {{ relation }}
                {%- if not loop.last %}
                    union
                {%- endif %}
            {%- endfor %}
        ) as distinct_people
        where distinct_people.{{ identifier_type }} is not null
    ) as people
    {#- Hashed in the projection above: a join on the hash expression itself (it reads the salt
        with a subquery) is planned as a nested loop, 63 s of thread time at 100k contacts. #}
    inner join {{ tombstones_relation }} as tombstones
        on
            tombstones.identifier_type = '{{ identifier_type }}'
            and people.identifier_hash = tombstones.identifier_hash
{%- endmacro %}

{#- Every distinct combination of the identifiers a landing table names (var landing_identifiers:
    one column per kind, named for the kind), normalized the way staging normalizes them, read from
    the landing source itself; `required`: a kind without which a row is left out; `among`: a
    relation with a column of that kind, whose values alone are kept (filtered before the rows are
    made distinct). What erasure_tombstones follows from a person to everything they left. -#}
{% macro landed_identifiers(source_name, table_name, required=none, among=none) -%}
    {%- if among is not none and required is none -%}
        {{ exceptions.raise_compiler_error(
            "landed_identifiers(" ~ source_name ~ ", " ~ table_name ~ "): `among` filters on the "
            ~ "`required` kind, so it needs `required` (say which column of " ~ among ~ " to match)"
        ) }}
    {%- endif -%}
    {%- set identifiers = var('landing_identifiers')[source_name ~ '.' ~ table_name] -%}
    select distinct
        {%- for identifier_type, column in identifiers.items() %}
        {{ normalized_identifier(identifier_type, column) }} as {{ identifier_type }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source(source_name, table_name) }}
    {%- if among is not none %}
    where {{ normalized_identifier(required, identifiers[required]) }} in (select {{ required }} from {{ among }})
    {%- elif required is not none %}
    where {{ normalized_identifier(required, identifiers[required]) }} is not null
    {%- endif %}
{%- endmacro %}
