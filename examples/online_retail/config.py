"""The declarative mapping of an invoice-line export onto the raw-data contract (`mapping.yml`
beside this file): which export column holds what, its time zone and currency, the stock-code
rules, the identity columns and the example's run settings. An export of the same shape with other
column names or codes needs a YAML edit, not a code change; a file that lacks a named column is
refused with the columns it lacks, the mapping file and the columns it has."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from warehouse.context import PROJECT_DIR, resolve_path

DEFAULT_MAPPING = Path(__file__).with_name("mapping.yml")
# What each contract meaning is read as; every one must be named in `columns`.
MEANINGS = (
    "invoice", "stock_code", "description", "quantity", "invoiced_at", "unit_price", "customer_id", "country",
)  # fmt: skip
CODE_KINDS = ("product", "shipping", "discount", "fee", "adjustment", "voucher")


class MappingError(ValueError):
    """The mapping file or the export does not fit: the message names the file and what to fix."""


@dataclass(frozen=True)
class MappingConfig:
    """One mapping file, parsed and checked."""

    path: Path
    source_path: Path
    source_env: str
    source_origin: str
    columns: dict[str, str]
    identity: dict[str, str | None]
    time_zone: ZoneInfo
    currency: str
    channel: str
    cancellation_prefix: str
    codes: dict[str, tuple[re.Pattern, ...]]
    as_of: str
    reporting_currency: str
    out: Path

    @property
    def export_columns(self) -> list[str]:
        """The export's columns this mapping reads, in the order of MEANINGS."""
        return [self.columns[meaning] for meaning in MEANINGS]

    def default_source(self) -> Path:
        """The export's path: the mapping's variable when set, else its path from the repository root."""
        explicit = os.environ.get(self.source_env, "").strip() if self.source_env else ""
        return resolve_path(explicit or self.source_path)

    def missing_source(self, path: Path) -> str:
        """What to say when the export is not there: where the public data set comes from."""
        return (
            f"{path}: not found. This example reads {self.source_origin}. Put it at "
            f"{self.source_path} (relative to the repository root), or point --source"
            + (f" or {self.source_env}" if self.source_env else "")
            + f" at it (mapping: {self.path})."
        )


def _require(document: dict, key: str, path: Path):
    if key not in document or document[key] in (None, ""):
        raise MappingError(f"{path}: `{key}` is missing")
    return document[key]


def load_mapping(path: Path | str = DEFAULT_MAPPING) -> MappingConfig:
    """The mapping file, checked: every meaning named, a known time zone, code patterns that compile."""
    path = Path(path)
    document = yaml.safe_load(path.read_text()) or {}
    columns = dict(_require(document, "columns", path))
    unnamed = [meaning for meaning in MEANINGS if not columns.get(meaning)]
    if unnamed:
        raise MappingError(f"{path}: `columns` names no export column for {unnamed}")
    identity = dict(document.get("identity") or {"contact_id": "customer_id"})
    if identity.get("contact_id") not in columns:
        raise MappingError(f"{path}: `identity.contact_id` must be one of the meanings under `columns`")
    codes = {}
    for kind, patterns in (_require(document, "codes", path) or {}).items():
        if kind not in CODE_KINDS:
            raise MappingError(f"{path}: unknown code kind `{kind}` (known: {', '.join(CODE_KINDS)})")
        try:
            codes[kind] = tuple(re.compile(str(p).upper()) for p in patterns or ())
        except re.error as error:
            raise MappingError(f"{path}: codes.{kind}: {error}") from error
    try:
        zone = ZoneInfo(str(_require(document, "time_zone", path)))
    except (KeyError, ValueError) as error:
        raise MappingError(f"{path}: unknown time_zone {document.get('time_zone')!r}") from error
    source = document.get("source") or {}
    run = document.get("run") or {}
    return MappingConfig(
        path=path,
        source_path=Path(_require(source, "path", path)),
        source_env=str(source.get("path_env") or ""),
        source_origin=str(source.get("origin") or "the export named by source.path"),
        columns={meaning: str(columns[meaning]) for meaning in MEANINGS},
        identity=identity,
        time_zone=zone,
        currency=str(_require(document, "currency", path)).upper(),
        channel=str(document.get("channel") or "web"),
        cancellation_prefix=str((document.get("cancellations") or {}).get("invoice_prefix") or ""),
        codes=codes,
        as_of=str(run.get("as_of") or ""),
        reporting_currency=str(run.get("reporting_currency") or "").upper(),
        out=resolve_path(run.get("out") or PROJECT_DIR / "data" / "examples" / path.parent.name),
    )


def _file_columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, nrows=0).columns)


def check_columns(found: list[str], config: MappingConfig, source: Path | str) -> None:
    """Refuse an export without a column the mapping names, saying which, where to rename them and
    what the export has."""
    missing = {meaning: column for meaning, column in config.columns.items() if column not in found}
    if missing:
        named = ", ".join(f"{meaning}: {column}" for meaning, column in missing.items())
        raise MappingError(
            f"{source} lacks the column(s) {sorted(missing.values())} that {config.path} names "
            f"({named}). Its columns are {found}: rename them under `columns` in {config.path}."
        )


def read_export(path: Path, config: MappingConfig, limit: int | None = None) -> pd.DataFrame:
    """The export's mapped columns under the export's own names; `limit` keeps the first rows."""
    if not path.is_file():
        raise MappingError(config.missing_source(path))
    check_columns(_file_columns(path), config, path)
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path, columns=config.export_columns)
    else:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(include_columns=config.export_columns)
        )
    if limit is not None:
        table = table.slice(0, limit)
    return table.to_pandas()
