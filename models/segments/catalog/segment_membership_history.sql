{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='membership_interval_key',
        full_refresh=false,
        on_schema_change='fail',
    )
}}

{#- When each customer entered and left each segment, across runs with different as_of. Each run
    closes the open intervals of customers no longer in a segment (exited_at = as_of) and opens one
    for each new member (entered_at = as_of). A run at the as_of last recorded changes nothing, so
    re-running a day is a no-op, and history survives every rebuild (full_refresh is disabled for
    this model). A build at an earlier as_of is refused with a message, never half-applied: see
    the rewind_membership_history operation to go back on purpose. -#}
{%- if is_incremental() and execute %}
    {%- set latest = "select cast(max(last_evaluated_at) as " ~ dbt.type_string() ~ ") from " ~ this -%}
    {%- set held = run_query(latest).columns[0].values()[0] -%}
    {%- if held and held[:19] > as_of_text() -%}
        {{ exceptions.raise_compiler_error(
            this ~ " already records segment membership up to as_of " ~ held[:19] ~ ", and this build's as_of is "
            ~ as_of_text() ~ ": building it would rewrite history. Build at " ~ held[:19] ~ " or later (AW_AS_OF, or"
            ~ " --vars as_of), or use another warehouse for a backtest (AW_WAREHOUSE_PATH). To go back on purpose:"
            ~ " dbt run-operation rewind_membership_history --args '{to: \"" ~ as_of_text() ~ "\"}'"
        ) }}
    {%- endif -%}
{%- endif %}
with current_members as (
    select
        segment_name,
        customer_key
    from {{ ref('segment_membership') }}
),

{% if is_incremental() %}
    last_recorded as (
        select max(last_evaluated_at) as last_evaluated_at from {{ this }}
    ),

    is_new_run as (
        select coalesce(max(last_evaluated_at) < {{ as_of() }}, true) as proceed from last_recorded
    ),

    open_intervals as (
        select *
        from {{ this }}
        where exited_at is null
    ),

    evaluated_intervals as (
        select
            open_intervals.membership_interval_key,
            open_intervals.segment_name,
            open_intervals.customer_key,
            open_intervals.entered_at,
            case when current_members.customer_key is null then {{ as_of() }} end as exited_at,
            {{ as_of() }} as last_evaluated_at
        from open_intervals
        cross join is_new_run
        left join current_members
            on
                open_intervals.segment_name = current_members.segment_name
                and open_intervals.customer_key = current_members.customer_key
        where is_new_run.proceed
    ),

    opened as (
        select
            current_members.segment_name,
            current_members.customer_key
        from current_members
        cross join is_new_run
        left join open_intervals
            on
                current_members.segment_name = open_intervals.segment_name
                and current_members.customer_key = open_intervals.customer_key
        where is_new_run.proceed and open_intervals.customer_key is null
    ),
{% else %}
    evaluated_intervals as (
        {{ no_rows({
            'membership_interval_key': dbt.type_string(), 'segment_name': dbt.type_string(),
            'customer_key': dbt.type_string(), 'entered_at': dbt.type_timestamp(),
            'exited_at': dbt.type_timestamp(), 'last_evaluated_at': dbt.type_timestamp(),
        }) }}
    ),

    opened as (
        select
            segment_name,
            customer_key
        from current_members
    ),
{% endif %}

new_intervals as (
    select
        {{ dbt.hash(
            "segment_name || '|' || customer_key || '|' || cast(" ~ as_of() ~ " as " ~ dbt.type_string() ~ ")"
        ) }}
            as membership_interval_key,
        segment_name,
        customer_key,
        {{ as_of() }} as entered_at,
        cast(null as timestamp) as exited_at,
        {{ as_of() }} as last_evaluated_at
    from opened
)

select * from evaluated_intervals
union all
select * from new_intervals
