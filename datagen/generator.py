"""Orchestration: blocks of contacts -> landing files, then event chunks, then the ground truth."""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datagen.calendar import Calendar
from datagen.catalog import build_campaigns, build_catalog
from datagen.config import BLOCK_SIZE, FUTURE_DAYS, GENERATOR_VERSION, HISTORY_DAYS, SOURCES, GeneratorConfig
from datagen.currency import rate_table, rates_source
from datagen.dirt import DirtDraw, share_emails
from datagen.personas import PERSONAS, draw_contacts
from datagen.rng import stream
from datagen.simulate.email import simulate_email
from datagen.simulate.orders import simulate_orders
from datagen.simulate.plan import Plan
from datagen.simulate.web import simulate_web
from datagen.tables.catalog import PRODUCT_COLUMNS, product_rows
from datagen.tables.crm import CONTACT_COLUMNS, ContactText, contact_rows
from datagen.tables.email import CAMPAIGN_COLUMNS, EMAIL_COLUMNS, campaign_rows, email_rows, email_spool_rows
from datagen.tables.orders import ITEM_COLUMNS, ORDER_COLUMNS, order_rows
from datagen.tables.privacy import PRIVACY_COLUMNS, privacy_requests, privacy_rows
from datagen.tables.web import WEB_COLUMNS, page_vocabulary, web_rows, web_spool_rows
from datagen.text import DAY
from datagen.truth import CUSTOMER_SCHEMA, FUTURE_SCHEMA, customer_truth, future_orders
from datagen.writers import FileStats, Landing, Spool, TableOutput


@dataclass
class GenerationReport:
    """What a run wrote: files with rows and bytes, rows per table, dirt counts, timings."""

    out: Path
    truth_dir: Path
    files: dict[str, FileStats]
    table_rows: dict[str, int]
    dirt_counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)


class Progress:
    """One line per step on stderr: block i/n, rows so far, elapsed time."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def say(self, message: str) -> None:
        if self.enabled:
            rss = psutil.Process().memory_info().rss / 2**20
            print(f"[datagen {self.elapsed():7.1f}s {rss:6,.0f} MB] {message}", file=sys.stderr, flush=True)


def _check_paths(config: GeneratorConfig) -> None:
    out, truth = config.out.resolve(), config.truth_dir.resolve()
    if truth == out or out in truth.parents:
        raise ValueError(f"the ground truth ({truth}) must not be inside the landing folder ({out})")


def make_plan(config: GeneratorConfig) -> Plan:
    as_of = int(config.as_of.timestamp())
    history_start = as_of - HISTORY_DAYS * DAY
    future_end = as_of + FUTURE_DAYS * DAY
    chunk_seconds = config.event_chunk_days * DAY
    return Plan(
        seed=config.seed,
        as_of=as_of,
        history_start=history_start,
        future_end=future_end,
        calendar=Calendar(history_start - DAY, future_end),
        catalog=build_catalog(
            config.seed, config.n_products, history_start, as_of, config.dirt.inactive_product
        ),
        campaigns=build_campaigns(config.seed, history_start, as_of),
        chunk_seconds=chunk_seconds,
        n_periods=math.ceil(HISTORY_DAYS * DAY / chunk_seconds),
    )


def generate(config: GeneratorConfig) -> GenerationReport:
    """Write the landing files of `config.sources` under config.out and the ground truth beside it."""
    _check_paths(config)
    progress = Progress(config.progress)
    timings: dict[str, float] = {}
    plan = make_plan(config)
    rates = config.dirt
    n_contacts = config.n_contacts
    n_blocks = math.ceil(n_contacts / BLOCK_SIZE)
    selected = set(config.sources)
    config.out.mkdir(parents=True, exist_ok=True)
    truth_dir = config.truth_dir
    truth_dir.mkdir(parents=True, exist_ok=True)
    landing = Landing(config.out, truth_dir / "dirt.parquet")
    chunk_blocks = n_blocks > 1

    def output(source: str, table: str, names: list[str], chunked: bool) -> TableOutput | None:
        if source not in selected:
            return None
        return TableOutput(landing, source, table, config.format_of(source, table), names, chunked)

    contacts_out = output("crm", "contacts", CONTACT_COLUMNS, chunk_blocks)
    orders_out = output("orders", "orders", ORDER_COLUMNS, chunk_blocks)
    items_out = output("orders", "order_items", ITEM_COLUMNS, chunk_blocks)
    web_out = output("web", "events", WEB_COLUMNS, True)
    email_out = output("email", "events", EMAIL_COLUMNS, True)
    need_email = bool({"email", "web"} & selected)
    spool_dir = Path(tempfile.mkdtemp(prefix="datagen-spool-"))
    web_spool = Spool(spool_dir, "web", plan.n_periods) if web_out else None
    email_spool = Spool(spool_dir, "email", plan.n_periods) if email_out else None
    esp_emails: list[pa.Array] = []
    privacy_parts: list[pa.Table] = []
    truth_path = truth_dir / "customers.parquet"
    future_path = truth_dir / "future_orders.parquet"
    truth_writer = pq.ParquetWriter(
        truth_path.with_name(".customers.parquet.partial"), CUSTOMER_SCHEMA, compression="zstd"
    )
    future_writer = pq.ParquetWriter(
        future_path.with_name(".future_orders.parquet.partial"), FUTURE_SCHEMA, compression="zstd"
    )
    counts = {"orders": 0, "web": 0, "email": 0}
    timings["setup"] = progress.elapsed()
    try:
        for block in range(n_blocks):
            offset = block * BLOCK_SIZE
            size = min(BLOCK_SIZE, n_contacts - offset)
            c = draw_contacts(stream(config.seed, "contacts", block), size, plan.as_of)
            orders = simulate_orders(plan, c, stream(config.seed, "orders", block))
            names = ContactText(config.seed, block, offset, c)
            address, shared = share_emails(
                DirtDraw(config.seed, "crm", "contacts", block, rates), size, names.email
            )
            esp_emails.append(address)
            email = (
                simulate_email(plan, c, orders, stream(config.seed, "email", block)) if need_email else None
            )
            orders["attributed_campaign"] = (
                email["attributed_campaign"] if email else np.full(len(orders["owner"]), -1, dtype=np.int64)
            )
            counts["orders"] += len(orders["owner"])
            if contacts_out:
                contacts_out.write(
                    contact_rows(plan, block, c, names, address, shared, orders, rates), part=block
                )
            if orders_out:
                headers, items = order_rows(plan, block, c, names, address, orders, rates)
                orders_out.write(headers, part=block)
                items_out.write(items, part=block)
            if "privacy" in selected:
                privacy_parts.append(privacy_requests(plan, block, c, names, address, rates))
            if web_spool is not None:
                web = simulate_web(plan, c, orders, email, stream(config.seed, "web", block))
                web_spool.add(web_spool_rows(plan, block, offset, web, rates))
                counts["web"] = web_spool.rows
            if email_spool is not None:
                email_spool.add(email_spool_rows(plan, block, offset, email, rates))
                counts["email"] = email_spool.rows
            truth_writer.write_table(customer_truth(plan, names.number, c, orders))
            future_writer.write_table(future_orders(names.number, orders))
            progress.say(
                f"block {block + 1}/{n_blocks} | contacts {offset + size:,} | orders {counts['orders']:,} | "
                f"web events {counts['web']:,} | e-mail events {counts['email']:,}"
            )
        timings["blocks"] = progress.elapsed() - timings["setup"]

        started = progress.elapsed()
        pages = page_vocabulary(plan)
        all_emails = pa.concat_arrays(esp_emails)
        for name, spool, out in (("web", web_spool, web_out), ("email", email_spool, email_out)):
            if spool is None:
                continue
            for period in range(plan.n_periods):
                chunk = spool.chunk(period, ["arrival", "uid"])
                if chunk is None:
                    continue
                rows = web_rows(plan, chunk, pages) if name == "web" else email_rows(plan, chunk, all_emails)
                out.write(rows, part=period)
                if period % 10 == 9 or period == plan.n_periods - 1:
                    progress.say(f"{name} events chunk {period + 1}/{plan.n_periods}")
            spool.remove()
        timings["event_chunks"] = progress.elapsed() - started

        started = progress.elapsed()
        single_tables = (
            ("catalog", "products", PRODUCT_COLUMNS, lambda: product_rows(plan, rates)),
            ("email", "campaigns", CAMPAIGN_COLUMNS, lambda: campaign_rows(plan)),
            (
                "privacy",
                "requests",
                PRIVACY_COLUMNS,
                lambda: privacy_rows(pa.concat_tables(privacy_parts)),
            ),
        )
        for source, table, columns, build in single_tables:
            target = output(source, table, columns, False)
            if target is not None:
                target.write(build())
                target.close()
        for target in (contacts_out, orders_out, items_out):
            if target is not None:
                target.close()
        truth_writer.close()
        future_writer.close()
        truth_path.with_name(".customers.parquet.partial").replace(truth_path)
        future_path.with_name(".future_orders.parquet.partial").replace(future_path)
        landing.close()
        timings["small_tables_and_truth"] = progress.elapsed() - started
    except BaseException:
        landing.abort()
        raise
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)

    pq.write_table(rate_table(plan.history_start, plan.as_of), truth_dir / "currency_rates.parquet")
    timings["total"] = progress.elapsed()
    table_rows: dict[str, int] = {}
    for relative, stats in sorted(landing.files.items()):
        source, rest = relative.split("/", 1)
        table = rest.split("/")[0].split(".")[0]
        table_rows[f"{source}/{table}"] = table_rows.get(f"{source}/{table}", 0) + stats.rows
    dirt_counts = dict(sorted(landing.dirt_counts.items()))
    report = GenerationReport(
        config.out, truth_dir, dict(sorted(landing.files.items())), table_rows, dirt_counts, timings
    )
    _write_meta(config, plan, n_blocks, report)
    progress.say(f"done: {sum(s.rows for s in report.files.values()):,} rows in {len(report.files)} files")
    return report


def _write_meta(config: GeneratorConfig, plan: Plan, n_blocks: int, report: GenerationReport) -> None:
    def iso(seconds: int) -> str:
        return pc.strftime(pa.array([seconds]).cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ")[
            0
        ].as_py()

    formats = {f"{s}/{t}": config.format_of(s, t) for s in config.sources for t in SOURCES[s]}
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "scale": config.scale,
        "n_contacts": config.n_contacts,
        "n_products": plan.catalog.size,
        "n_campaigns": plan.campaigns.size,
        "as_of": iso(plan.as_of),
        "history_start": iso(plan.history_start),
        "future_end": iso(plan.future_end),
        "format": config.format,
        "formats": formats,
        "sources": list(config.sources),
        "event_chunk_days": config.event_chunk_days,
        "block_size": BLOCK_SIZE,
        "n_blocks": n_blocks,
        "personas": {p.name: p.share for p in PERSONAS},
        "dirt_rates": config.dirt.as_dict(),
        "currency_rates": rates_source(),
        "dirt_counts": report.dirt_counts,
        "table_rows": report.table_rows,
        "files": {k: {"rows": v.rows, "bytes": v.bytes} for k, v in report.files.items()},
        "truth_files": [
            "customers.parquet",
            "future_orders.parquet",
            "dirt.parquet",
            "currency_rates.parquet",
        ],
        "timings_seconds": {k: round(v, 3) for k, v in report.timings.items()},
    }
    (report.truth_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
