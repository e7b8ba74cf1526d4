"""Same seed and options: byte-identical files; another seed: different files; reruns replace files."""

from __future__ import annotations

from tests.datagen.helpers import clean, digest, run

OPTIONS = {"scale": "tiny", "contacts": 400}
# kinds that rewrite some cell of an order row
ORDER_CELL_DIRT = (
    "guest_checkout",
    "foreign_currency",
    "non_completed_status",
    "negative_total",
    "absurd_total",
    "unknown_currency",
    "amount_mismatch",
    "mixed_date_formats",
    "unparseable_timestamp",
    "shared_email",
)


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = run(tmp_path / "a", seed=11, **OPTIONS)
    second = run(tmp_path / "b", seed=11, **OPTIONS)
    landing = digest(first.out)
    assert landing and landing == digest(second.out)
    truth_files = ("customers.parquet", "future_orders.parquet", "dirt.parquet", "currency_rates.parquet")
    for name in truth_files:
        assert (first.truth_dir / name).read_bytes() == (second.truth_dir / name).read_bytes(), name


def test_another_seed_gives_other_data(tmp_path):
    first = digest(run(tmp_path / "a", seed=11, **OPTIONS).out)
    other = digest(run(tmp_path / "b", seed=12, **OPTIONS).out)
    assert len(first.keys() & other.keys()) > 20
    assert [name for name in first.keys() & other.keys() if first[name] == other[name]] == []


def test_rerun_into_the_same_folder_replaces_stale_parts(tmp_path):
    fresh = digest(run(tmp_path / "fresh", seed=5, **OPTIONS).out)
    reused = tmp_path / "reused"
    run(reused, seed=5, chunk_days=10, **OPTIONS)  # more, smaller event chunks
    assert len(list((reused / "landing" / "web" / "events").iterdir())) > 60
    (reused / "landing" / "crm" / "notes.txt").write_text("a user's file is left alone")
    run(reused, seed=5, **OPTIONS)
    after = digest(reused / "landing")
    assert after.pop("crm/notes.txt")
    assert after == fresh


def test_dirt_is_an_overlay_on_the_same_base_data(dirty, spotless_tiny):
    """With one seed, rows the dirt left untouched are identical in the clean and the dirty run."""
    clean_rows = (spotless_tiny.out / "orders" / "orders.csv").read_text().splitlines()
    dirty_rows = set((dirty.out / "orders" / "orders.csv").read_text().splitlines())
    shared = [row for row in clean_rows[1:] if row in dirty_rows]
    assert clean_rows[0] in dirty_rows  # the header
    untouched = 1 - sum(dirty.dirt.as_dict()[kind] for kind in ORDER_CELL_DIRT)
    assert len(shared) >= 0.9 * untouched * (len(clean_rows) - 1)
    assert clean() != dirty.dirt
