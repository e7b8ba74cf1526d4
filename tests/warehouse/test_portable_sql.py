"""No DuckDB-only SQL in models/: engine-specific SQL lives in adapter.dispatch macros (macros/),
so that the same project builds on Spark (make test-spark). Each rule below is something a local
Spark 4.3 session rejects, or computes differently, while DuckDB accepts it (checked on both
engines when the rules were written); the fix is a cross-database macro (dbt.type_string(),
dbt.datediff, dbt.hash ...) or a dispatched macro of the project."""

from __future__ import annotations

import re

import pytest
import yaml

from warehouse.context import PROJECT_DIR

FUNCTIONS = (
    "struct_pack|list_value|list_[a-z_]+|list|regexp_matches|regexp_full_match|strftime|strptime|"
    "epoch|epoch_ms|epoch_us|json_extract|json_extract_string|arg_max|arg_min|sha256|unnest|"
    "quantile_cont|quantile_disc|approx_quantile|array_length|len|current_localtimestamp|today|"
    "isodow|starts_with|string_split"
)
# (rule, pattern, why it breaks). A function is flagged when called bare, not as a Jinja method
# (run_started_at.strftime(...)) nor as a dbt macro (dbt.hash(...)).
RULES = [
    (
        "double-colon cast",
        r"::",
        "hides the type from the type macros (::varchar fails on Spark); Spark < 4.0 cannot parse it",
    ),
    (
        "DuckDB type name",
        r"\bas\s+(varchar|text|hugeint|uhugeint|ubigint|uinteger|usmallint|utinyint|timestamptz)\b(?!\s*\()",
        "Spark has no such type (varchar needs a length there): use dbt.type_string() and friends",
    ),
    ("DuckDB function", rf"(?<![\w.])({FUNCTIONS})\s*\(", "Spark has no function of that name"),
    (
        "datediff with a quoted unit",
        r"(?<![\w.])date_?diff\s*\(\s*'",
        "Spark wants an unquoted unit: use dbt.datediff",
    ),
    ("extract(epoch ...)", r"\bextract\s*\(\s*epoch\b", "Spark cannot extract epoch"),
    ("select * exclude/replace", r"\*\s*(exclude|replace)\s*\(", "Spark has no star modifiers"),
    ("JSON arrow operator", r"->>?", "Spark has no JSON operators: use a dispatched JSON macro"),
    ("using sample", r"\busing\s+sample\b", "Spark samples with TABLESAMPLE"),
    ("regexp_replace", r"(?<![\w.])regexp_replace\s*\(", "DuckDB replaces the first match, Spark every one"),
    ("hash()", r"(?<![\w.])hash\s*\(", "DuckDB and Spark hash to different values: use dbt.hash"),
    ("dayofweek()", r"(?<![\w.])dayofweek\s*\(", "Sunday is 0 on DuckDB, 1 on Spark: use a dispatched macro"),
]
COMPILED = [(rule, re.compile(pattern, re.IGNORECASE), why) for rule, pattern, why in RULES]


def _without_comments(sql: str) -> str:
    """Jinja and SQL comments blanked out, line numbers kept."""
    sql = re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", sql)


def duckdb_only_syntax(sql: str) -> list[tuple[int, str, str]]:
    """(line, rule, why) for each DuckDB-only construct of a model's SQL, Jinja included."""
    found = []
    for number, line in enumerate(_without_comments(sql).splitlines(), start=1):
        for rule, pattern, why in COMPILED:
            if pattern.search(line):
                found.append((number, rule, why))
    return found


def test_models_hold_no_duckdb_only_syntax():
    problems = [
        f"{path.relative_to(PROJECT_DIR)}:{line}: {rule} ({why})"
        for path in sorted((PROJECT_DIR / "models").rglob("*.sql"))
        for line, rule, why in duckdb_only_syntax(path.read_text())
    ]
    assert not problems, "DuckDB-only SQL outside the dispatch macros:\n" + "\n".join(problems)


def _unit_test_sql_fixtures():
    """(file, unit test, SQL) of every fixture given as SQL: dbt runs it as written on the engine."""
    for path in sorted((PROJECT_DIR / "models").rglob("*.yml")):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            for fixture in [*(test.get("given") or []), test.get("expect") or {}]:
                if fixture.get("format") == "sql":
                    yield path, test["name"], fixture["rows"]


def test_unit_test_sql_fixtures_hold_no_duckdb_only_syntax():
    """dbt runs a unit test's SQL fixture as written on the engine: on Spark
    (`make dbt ARGS="test --select test_type:unit"`), a fixture cast to varchar failed."""
    fixtures = list(_unit_test_sql_fixtures())
    problems = [
        f"{path.relative_to(PROJECT_DIR)} ({name}) line {line}: {rule} ({why})"
        for path, name, sql in fixtures
        for line, rule, why in duckdb_only_syntax(sql)
    ]
    assert fixtures, "no unit test gives a fixture as SQL: the scan would pass for the wrong reason"
    assert not problems, "DuckDB-only SQL in unit-test fixtures:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "sql, rule",
    [
        ("select amount::double from orders", "double-colon cast"),
        ("select cast(order_id as varchar) from orders", "DuckDB type name"),
        ("select struct_pack(a := 1)", "DuckDB function"),
        ("select list_contains(tags, 'x') from t", "DuckDB function"),
        ("where regexp_matches(email, '@')", "DuckDB function"),
        ("select strftime(ordered_at, '%Y') from t", "DuckDB function"),
        ("select epoch(ordered_at) from t", "DuckDB function"),
        ("select datediff('day', a, b) from t", "datediff with a quoted unit"),
        ("select extract(epoch from a) from t", "extract(epoch ...)"),
        ("select * exclude (email) from t", "select * exclude/replace"),
        ("select payload ->> '$.id' from t", "JSON arrow operator"),
        ("select regexp_replace(phone, '[^0-9]', '') from t", "regexp_replace"),
        ("select hash(email) from t", "hash()"),
    ],
)
def test_each_rule_catches_its_construct(sql, rule):
    assert rule in [found for _, found, _ in duckdb_only_syntax(sql)]


@pytest.mark.parametrize(
    "sql",
    [
        "{{ dbt.hash('email') }} as email_hash",
        "cast('{{ run_started_at.strftime(\"%Y-%m-%d\") }}' as timestamp)",
        "cast(x as {{ dbt.type_string() }})",
        "cast(total as decimal(18, 2)), cast(n as varchar(10))",
        "{#- DuckDB's x::varchar would not do here -#} select 1",
        "select 1 -- not epoch(x)",
        "qualify row_number() over (partition by a order by b) = 1",
        "{{ dbt.datediff('a', 'b', 'day') }}",
    ],
)
def test_portable_sql_passes(sql):
    assert duckdb_only_syntax(sql) == []


def test_rules_are_checked_against_a_real_file():
    """The scan reads the models: a project with no .sql would pass for the wrong reason."""
    assert len(list((PROJECT_DIR / "models").rglob("*.sql"))) > 50
