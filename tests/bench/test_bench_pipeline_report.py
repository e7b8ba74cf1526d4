"""`make bench` rewrites BENCHMARKS.md from bench/results/*.json and keeps, as it is, the part
measured by hand (below the HAND_MEASURED line): a rerun never erases a profile written there."""

from __future__ import annotations

from bench.bench_pipeline import BENCHMARKS, HAND_MEASURED, render_benchmarks


def test_rendering_keeps_every_hand_measured_section_of_the_committed_file():
    committed = BENCHMARKS.read_text()
    assert HAND_MEASURED in committed
    hand_sections = [
        line for line in committed.split(HAND_MEASURED, 1)[1].splitlines() if line.startswith("## ")
    ]
    assert "## The test suite: where `make test`'s time goes" in hand_sections
    rendered = render_benchmarks(committed)
    assert rendered.startswith("# Benchmarks")
    assert rendered.endswith(committed[committed.index(HAND_MEASURED) :])


def test_rendering_twice_gives_the_same_file():
    once = render_benchmarks(f"# old\n\n{HAND_MEASURED}\n\n## By hand\n\n42 s\n")
    assert once.endswith(f"{HAND_MEASURED}\n\n## By hand\n\n42 s\n")
    assert render_benchmarks(once) == once


def test_a_file_without_hand_measurements_is_rendered_from_the_results_alone():
    assert HAND_MEASURED not in render_benchmarks("# Benchmarks\n\nold figures\n")
