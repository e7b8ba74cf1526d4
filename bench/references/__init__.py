"""Two references for the core marts, computed straight from the landing files: a hand-written
DuckDB script (the floor) and a pandas implementation (what a data scientist would write). Plain
Python and SQL, no Dagster; bench/bench_references.py times them against dbt."""
