"""Activation benchmark: an initial sync of N members (default 1,000,000) to each ESP through the
fake server, an unchanged re-sync, then a re-sync after 1 % of members change.

The fake runs in its own process (so client and server do not share one GIL) and has no rate
limits: the figures measure this code, the fake and the warehouse writes, not the real APIs'
quotas. Prints a table and writes bench/results/activation.json.

    uv run python bench/bench_activation.py [--members 1000000] [--esps mailchimp,klaviyo,hubspot]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from activation import ActivationConfig, sync_audiences  # noqa: E402
from bench.measure import machine_facts, write_results  # noqa: E402
from fake_esp import HUBSPOT_TOKEN, KLAVIYO_KEY, MAILCHIMP_KEY  # noqa: E402

RESULTS = REPO / "bench" / "results" / "activation.json"


def build_audience(destination: str, n: int) -> pd.DataFrame:
    keys = np.arange(n)
    ids = pd.Series(keys).map("{:08d}".format)
    tiers = np.array(["bronze", "silver", "gold", "platinum"])
    segments = np.array(["champions", "loyal_customers", "at_risk", "hibernating", "new_customers"])
    products = [
        json.dumps(
            [
                {
                    "product_id": f"SKU-{(k * 7 + j) % 5000:05d}",
                    "name": f"Product {(k * 7 + j) % 5000}",
                    "image_url": f"https://img.example.com/{(k * 7 + j) % 5000}.jpg",
                    "price": 19.9 + j,
                }
                for j in range(3)
            ],
            separators=(",", ":"),
        )
        for k in keys
    ]
    return pd.DataFrame(
        {
            "destination": destination,
            "list_key": "bench_audience",
            "campaign_key": None,
            "customer_key": "c" + ids,
            "email": "member" + ids + "@bench.example.com",
            "is_email_valid": True,
            "first_name": "First" + ids,
            "last_name": "Last" + ids,
            "rfm_segment": segments[keys % len(segments)],
            "cluster_name": "cluster_" + pd.Series(keys % 7).astype(str),
            "loyalty_tier": tiers[keys % len(tiers)],
            "offer": "10% off",
            "preferred_send_hour": keys % 24,
            "recommended_products": products,
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_esp", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_fake/stats", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the fake ESP did not start")


def stats(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/_fake/stats", timeout=30).json()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_step(label, desired, suppressions, warehouse, config, port) -> dict:
    before = stats(port)
    started = time.perf_counter()
    results = sync_audiences(desired, suppressions, warehouse=warehouse, config=config)
    seconds = time.perf_counter() - started
    after = stats(port)
    result = results[0]
    if result.status != "success":
        raise RuntimeError(f"{label} did not succeed: {result.line()}")
    return {
        "step": label,
        "seconds": round(seconds, 2),
        "requests": after["requests"] - before["requests"],
        "client_requests": result.requests_made,
        "creates": result.counts["creates"],
        "updates": result.counts["updates"],
        "removes": result.counts["removes"],
        "unchanged": result.counts["unchanged"],
        "sent": result.sent,
        "members_per_second": round(result.sent / seconds) if result.sent else None,
        "peak_rss_mb_so_far": round(peak_rss_mb()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--esps", default="mailchimp,klaviyo,hubspot")
    parser.add_argument("--change-share", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    esps = [e.strip() for e in args.esps.split(",") if e.strip()]
    port = free_port()
    fake = start_fake(port)
    workdir = Path(tempfile.mkdtemp(prefix="bench_activation_"))
    url = f"http://127.0.0.1:{port}"
    env = {
        "AW_MAILCHIMP_API_KEY": MAILCHIMP_KEY,
        "AW_MAILCHIMP_AUDIENCE_ID": "aud0001",
        "AW_MAILCHIMP_BASE_URL": f"{url}/mailchimp/3.0",
        "AW_KLAVIYO_API_KEY": KLAVIYO_KEY,
        "AW_KLAVIYO_BASE_URL": f"{url}/klaviyo",
        "AW_KLAVIYO_POLL_SECONDS": "0.05",
        "AW_HUBSPOT_TOKEN": HUBSPOT_TOKEN,
        "AW_HUBSPOT_BASE_URL": f"{url}/hubspot",
        "AW_ACTIVATION_FILE_DIR": str(workdir / "files"),
        "AW_MAILCHIMP_RPS": "0",
        "AW_KLAVIYO_RPS": "0",
        "AW_HUBSPOT_RPS": "0",
        "AW_KLAVIYO_TIMEOUT": "120",
        "AW_MAILCHIMP_TIMEOUT": "120",
        "AW_HUBSPOT_TIMEOUT": "120",
    }
    config = ActivationConfig.from_env(env)
    suppressions = pd.DataFrame(
        {
            "email": pd.Series(dtype=object),
            "customer_key": pd.Series(dtype=object),
            "reason": pd.Series(dtype=object),
        }
    )
    report = {
        "benchmark": "activation",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": args.members,
        "change_share": args.change_share,
        "machine": machine_facts("pandas", "httpx"),
        "notes": [
            "fake ESP server in a separate process on 127.0.0.1, no rate limits; real APIs add their quotas",
            "requests = requests the fake server received (including retries, list lookups and job polls)",
            "warehouse: DuckDB file on local disk, opened and closed per write",
        ],
        "esps": {},
    }
    try:
        for esp in esps:
            warehouse = workdir / f"{esp}.duckdb"
            started = time.perf_counter()
            desired = build_audience(esp, args.members)
            build_seconds = time.perf_counter() - started
            steps = [run_step("initial", desired, suppressions, warehouse, config, port)]
            steps.append(run_step("unchanged", desired, suppressions, warehouse, config, port))
            rng = np.random.default_rng(42)
            changed_rows = rng.choice(args.members, int(args.members * args.change_share), replace=False)
            changed = desired.copy()
            changed.loc[changed_rows, "offer"] = "free shipping"
            steps.append(
                run_step(f"{args.change_share:.0%} changed", changed, suppressions, warehouse, config, port)
            )
            final = stats(port)
            report["esps"][esp] = {
                "audience_build_seconds": round(build_seconds, 2),
                "steps": steps,
                "list_size_at_esp": final["lists"][esp].get("bench_audience"),
                "warehouse_mb": round(warehouse.stat().st_size / 2**20, 1),
            }
            print(f"{esp}: done", flush=True)
    finally:
        fake_rss = None
        with contextlib.suppress(psutil.Error):
            fake_rss = round(psutil.Process(fake.pid).memory_info().rss / 2**20)
        fake.terminate()
        fake.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    report["client_peak_rss_mb"] = round(peak_rss_mb())
    report["fake_server_rss_mb_at_end"] = fake_rss
    write_results(args.out, report)
    print()
    print(
        f"{'esp':<10} {'step':<12} {'seconds':>9} {'requests':>9} {'creates':>9} {'updates':>8} "
        f"{'members/s':>10} {'peak RSS MB':>12}"
    )
    for esp, data in report["esps"].items():
        for step in data["steps"]:
            print(
                f"{esp:<10} {step['step']:<12} {step['seconds']:>9.2f} {step['requests']:>9} "
                f"{step['creates']:>9} {step['updates']:>8} {step['members_per_second'] or 0:>10} "
                f"{step['peak_rss_mb_so_far']:>12}"
            )
    m = report["machine"]
    print(f"\nmachine: {m['cpu_count']} x {m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}")
    print(
        f"client peak RSS {report['client_peak_rss_mb']} MB; fake server RSS {fake_rss} MB; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
