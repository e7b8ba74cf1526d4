"""The run context: the one home for where everything is and which "now" a run uses.

Paths come from environment variables, else defaults under data/ (the same ones dbt's profile
uses), resolved against the repository root. landing/, activation/, ml callers, orchestration/ and
the examples all ask here, so a user who points AW_WAREHOUSE_PATH elsewhere moves every part at once.

as_of is parsed here and only here on the Python side; dbt's `as_of_text` macro accepts the same
forms (an ISO date or date-time, with or without a zone, or `now`) and every dbt invocation records
the as_of it used in the warehouse (audit.run_context), so a plain `dbt build` without an as_of
keeps the warehouse's current one instead of taking a fresh "now" per invocation."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent

WAREHOUSE_ENV = "AW_WAREHOUSE_PATH"
LANDING_ENV = "AW_LANDING_DIR"
MODELS_ENV = "AW_MODELS_DIR"
PUBLISHED_ENV = "AW_PUBLISHED_PATH"
ACTIVATION_FILES_ENV = "AW_ACTIVATION_FILE_DIR"
PUBLISH_IDENTIFIERS_ENV = "AW_PUBLISH_IDENTIFIERS"
AS_OF_ENV = "AW_AS_OF"
# The dbt var reporting_currency reads it (dbt_project.yml): one currency per warehouse.
REPORTING_CURRENCY_ENV = "AW_REPORTING_CURRENCY"
MEMORY_LIMIT_ENV = "AW_DUCKDB_MEMORY_LIMIT"
THREADS_ENV = "AW_DUCKDB_THREADS"
TEMP_DIR_ENV = "AW_DUCKDB_TEMP_DIR"
# DuckDB's memory when AW_DUCKDB_MEMORY_LIMIT is not set: half the machine, and at most 2 GB per
# DuckDB thread (DuckDB's guidance is 1 to 4 GB per thread). Its own default (80 %) let one dbt
# build take 19.7 GB and starve the step beside it; half the machine let the 100k full run's
# largest process reach 11.5 GB, where under 4 GB (2 threads) it peaked at 4.6 GB in the same
# time (the daily run 7 % slower; one run each, BENCHMARKS.md).
DEFAULT_MEMORY_SHARE = 0.5
DEFAULT_MEMORY_PER_THREAD_MB = 2048
ENGINE_ENV = "AW_ENGINE"
SPARK_DIR_ENV = "AW_SPARK_DIR"
SPARK_MASTER_ENV = "AW_SPARK_MASTER"
SPARK_PARTITIONS_ENV = "AW_SPARK_SHUFFLE_PARTITIONS"
SPARK_DRIVER_HOST_ENV = "AW_SPARK_DRIVER_HOST"
SPARK_JAVA_OPTIONS_ENV = "AW_SPARK_JAVA_OPTIONS"
ENGINES = ("duckdb", "spark")
# connect_in_memory's database per (process, thread).
_IN_MEMORY_DATABASES: dict[tuple[int, int], _InMemoryDatabase] = {}

DEFAULTS = {
    WAREHOUSE_ENV: "data/warehouse.duckdb",
    LANDING_ENV: "data/landing",
    MODELS_ENV: "data/models",
    ACTIVATION_FILES_ENV: "data/activation",
    SPARK_DIR_ENV: "data/spark",
}


def resolve_path(value: str | Path) -> Path:
    """A path as the user wrote it: absolute as is, relative from the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_DIR / path).resolve()


def _setting(name: str) -> Path:
    return resolve_path(os.environ.get(name, "").strip() or DEFAULTS[name])


def warehouse_path() -> Path:
    return _setting(WAREHOUSE_ENV)


def landing_dir() -> Path:
    return _setting(LANDING_ENV)


def models_dir() -> Path:
    return _setting(MODELS_ENV)


def activation_file_dir() -> Path:
    return _setting(ACTIVATION_FILES_ENV)


def published_path(warehouse: Path | None = None) -> Path:
    """AW_PUBLISHED_PATH, else `published/<warehouse file name>` beside the warehouse: each warehouse
    publishes to its own place, so an example never replaces the demo's snapshot."""
    explicit = os.environ.get(PUBLISHED_ENV, "").strip()
    if explicit:
        return resolve_path(explicit)
    warehouse = warehouse or warehouse_path()
    return warehouse.parent / "published" / warehouse.name


def publish_identifiers() -> bool:
    """Whether the published snapshot also carries the restricted schema (e-mail, names, phone)."""
    return os.environ.get(PUBLISH_IDENTIFIERS_ENV, "").strip().lower() in ("1", "true", "yes")


def engine_settings(warehouse: Path | None = None) -> dict[str, str]:
    """DuckDB's memory_limit, threads and temp_directory (where it spills what does not fit), the
    same for dbt (warehouse/dbt_engine.py) and every Python connection: from AW_DUCKDB_MEMORY_LIMIT,
    AW_DUCKDB_THREADS and AW_DUCKDB_TEMP_DIR, else half the machine's memory but at most 2 GB a
    thread, the cores this process may use and `<warehouse>.tmp` beside the warehouse file."""
    threads = os.environ.get(THREADS_ENV, "").strip() or str(len(os.sched_getaffinity(0)))
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"{THREADS_ENV} must be a whole number of threads, at least 1; got {threads!r}")
    memory = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not memory:
        half = int(psutil.virtual_memory().total * DEFAULT_MEMORY_SHARE / 2**20)
        memory = f"{max(1, min(half, DEFAULT_MEMORY_PER_THREAD_MB * int(threads)))}MB"
    temp = os.environ.get(TEMP_DIR_ENV, "").strip()
    temp_dir = resolve_path(temp) if temp else Path(f"{warehouse or warehouse_path()}.tmp")
    return {"memory_limit": memory, "threads": threads, "temp_directory": str(temp_dir)}


def apply_engine_settings(con: duckdb.DuckDBPyConnection, warehouse: Path | None = None) -> None:
    """Set engine_settings() on an open connection. SET, not connect(config=...): DuckDB refuses a
    second connection to a file with another config, and these settings hold for the whole database
    instance anyway."""
    for name, value in engine_settings(warehouse).items():
        con.execute(f"set {name} = ?", [value] if name != "threads" else [int(value)])


def connect(warehouse: Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file (default: warehouse_path()) with the engine settings."""
    warehouse = warehouse or warehouse_path()
    con = duckdb.connect(str(warehouse), read_only=read_only)
    try:
        apply_engine_settings(con, warehouse)
    except BaseException:
        con.close()
        raise
    return con


def connect_in_memory(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to an in-memory DuckDB (for joins and hashes over Arrow data in a Python step)
    with the engine settings, `threads` instead of theirs when given, and no progress bar in the
    step's log. A cursor on one in-memory database per process and thread, made again when the
    settings change: creating a database costs about 20 ms, a cursor nothing, and what a cursor
    registers is its own."""
    key = (os.getpid(), threading.get_ident())
    settings = engine_settings()
    kept = _IN_MEMORY_DATABASES.get(key)
    if kept is None or kept.settings != settings:
        if kept is not None:
            kept.database.close()
        database = duckdb.connect()
        apply_engine_settings(database)
        database.execute("set enable_progress_bar = false")
        kept = _IN_MEMORY_DATABASES[key] = _InMemoryDatabase(settings, database, int(settings["threads"]))
    wanted = threads if threads is not None else int(settings["threads"])
    if kept.threads != wanted:
        # A database-wide setting, so it is changed only when it differs (a change restarts the
        # database's worker threads).
        kept.database.execute("set threads = ?", [wanted])
        kept.threads = wanted
    return kept.database.cursor()


@dataclass
class _InMemoryDatabase:
    settings: dict[str, str]
    database: duckdb.DuckDBPyConnection
    threads: int


def engine() -> str:
    """The engine the warehouse lives on: AW_ENGINE=duckdb (the default) or spark. It selects the
    dbt target and how Python steps read and write tables (warehouse/engine.py)."""
    value = os.environ.get(ENGINE_ENV, "").strip().lower() or "duckdb"
    if value not in ENGINES:
        raise ValueError(f"{ENGINE_ENV} must be one of {', '.join(ENGINES)}; got {value!r}")
    return value


def dbt_target() -> str:
    """The dbt target of the engine (profiles.yml)."""
    return "spark" if engine() == "spark" else "local"


def spark_dir() -> Path:
    """Where a local Spark session keeps its Parquet tables and embedded metastore."""
    return _setting(SPARK_DIR_ENV)


def spark_master() -> str:
    return os.environ.get(SPARK_MASTER_ENV, "").strip() or "local[2]"


def spark_is_local() -> bool:
    """A local session keeps its catalog in an embedded Derby metastore, which one process opens at
    a time: like DuckDB, its steps are serialized. A cluster's metastore takes concurrent steps."""
    return spark_master().startswith("local")


def spark_settings() -> dict[str, str]:
    """The Spark session's settings, the same as profiles.yml's spark target, so that dbt, the
    landing step and the Python steps open one catalog (and dbt's output is not drowned in Spark's
    warnings about reusing that session). ANSI mode is off: a cast that fails or a
    division by zero is null, as in DuckDB, rather than an error. The driver listens on loopback
    unless AW_SPARK_DRIVER_HOST says otherwise: on a host whose name resolves to loopback Spark
    otherwise picks a network address, and its own block fetches there can be refused and retried.
    AW_SPARK_JAVA_OPTIONS adds options to the driver's JVM (the tests' tiny data: a JVM that starts
    fast, rather than one that compiles hot code for long queries)."""
    home = spark_dir()
    driver_host = os.environ.get(SPARK_DRIVER_HOST_ENV, "").strip() or "127.0.0.1"
    java_options = os.environ.get(SPARK_JAVA_OPTIONS_ENV, "").strip()
    return {
        "spark.master": spark_master(),
        "spark.driver.host": driver_host,
        "spark.driver.bindAddress": driver_host,
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home} {java_options}".strip(),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.shuffle.partitions": os.environ.get(SPARK_PARTITIONS_ENV, "").strip() or "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        "spark.sql.legacy.createHiveTableByDefault": "false",
    }


def warehouse_pool(warehouse: Path | None = None) -> str | None:
    """The Dagster concurrency pool of one warehouse: every step that opens it, reading or writing,
    takes this pool's single slot, and two warehouses never wait for each other. DuckDB (one writer
    per file) and a local Spark session (one process per embedded metastore) have one; a Spark
    cluster has none: its steps run side by side."""
    if engine() == "spark":
        if not spark_is_local():
            return None
        home = spark_dir().resolve()
        return f"spark-{home.name}-{hashlib.sha256(str(home).encode()).hexdigest()[:8]}"
    warehouse = (warehouse or warehouse_path()).resolve()
    digest = hashlib.sha256(str(warehouse).encode()).hexdigest()[:8]
    return f"duckdb-{warehouse.stem}-{digest}"


class AsOfError(ValueError):
    """as_of is not a date: the message says which forms are accepted."""


def parse_as_of(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or date-time (with or without a zone) or `now`, as naive UTC to the second."""
    value = (text or "").strip()
    if value.lower() == "now":
        moment = now or datetime.now(UTC)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if len(value) >= 10 else None
        except ValueError:
            moment = None
        if moment is None:
            raise AsOfError(
                f"as_of must be an ISO date or date-time such as 2026-06-30 or 2026-06-30T00:00:00Z, "
                f"or `now`; got {text!r}"
            )
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def stored_as_of(warehouse: Path | None = None) -> datetime | None:
    """The as_of of the warehouse's last successful dbt invocation, None for a new warehouse."""
    warehouse = warehouse or warehouse_path()
    if not warehouse.exists():
        return None
    with connect(warehouse, read_only=True) as con:
        found = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'run_context'"
        ).fetchone()[0]
        if not found:
            return None
        row = con.execute(
            "select as_of from audit.run_context where succeeded order by finished_at desc limit 1"
        ).fetchone()
    return row[0] if row else None


def lock_holder(warehouse: Path | None = None) -> str | None:
    """Who holds the warehouse file's lock (process id and command line), None when nobody does:
    DuckDB admits one writer, and any other connection to the file blocks it."""
    warehouse = warehouse or warehouse_path()
    if not warehouse.exists():
        return None
    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as error:
        text = str(error).strip().splitlines()[0]
        found = re.search(r"PID (\d+)", text)
        if not found:
            return text
        pid = int(found.group(1))
        try:
            command = " ".join(psutil.Process(pid).cmdline())[:300]
        except psutil.Error:
            command = "command unknown"
        return f"process {pid} ({command})"
    return None


def preflight(
    as_of: str | None = None, warehouse: Path | None = None, landing: Path | None = None
) -> list[str]:
    """What would make a run fail at its first step, found before any step runs: an unreadable
    as_of, a missing landing folder, a warehouse another process holds."""
    problems = []
    if as_of:
        try:
            parse_as_of(as_of)
        except AsOfError as error:
            problems.append(str(error))
    landing = landing or landing_dir()
    if not landing.is_dir():
        problems.append(
            f"the landing folder {landing} does not exist (set AW_LANDING_DIR, or `make data` for demo data)"
        )
    warehouse = warehouse or warehouse_path()
    holder = lock_holder(warehouse)
    if holder:
        problems.append(
            f"the warehouse {warehouse} is locked by {holder}: close it (or wait for it) and retry"
        )
    return problems


@contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set while the block runs, the caller's own restored after it: for a
    run in this process (a backtest) or a process started inside the block (dbt, which dagster-dbt
    starts with a copy of os.environ and no environment of its own)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
