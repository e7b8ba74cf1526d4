"""What every benchmark results entry records about its run."""

import re

from bench.measure import run_facts


def test_a_results_entry_says_when_at_which_commit_and_on_what_machine_it_ran():
    facts = run_facts("pandas")
    assert list(facts) == ["run_at", "git_commit", "machine"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", facts["run_at"])
    assert re.fullmatch(r"[0-9a-f]{7,}", facts["git_commit"])
    assert {"cpu_count", "duckdb", "pandas"} <= set(facts["machine"])
