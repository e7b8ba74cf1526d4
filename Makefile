# Audience Warehouse — every target bootstraps what it needs from nothing (uv, the environment, the
# dbt manifest), so a newcomer only ever types `make run` or `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export DBT_PROFILES_DIR := $(CURDIR)
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home
# Where everything is (warehouse/context.py has the same defaults); exported so that Dagster's
# resources show the variable each value comes from.
export AW_WAREHOUSE_PATH ?= data/warehouse.duckdb
export AW_LANDING_DIR ?= data/landing
export AW_MODELS_DIR ?= data/models
# Parallel numeric libraries spin while waiting; on a shared 2-core box that costs minutes.
export OMP_WAIT_POLICY ?= PASSIVE

UV := $(or $(shell command -v uv 2>/dev/null),$(HOME)/.local/bin/uv)
# AW_ENGINE=spark runs the warehouse on Apache Spark (README "Running at cluster scale"): the
# commands that touch the warehouse then bring the optional `spark` extra (dbt-spark, pyspark).
ENGINE_EXTRA := $(if $(filter spark,$(AW_ENGINE)),--extra spark)
RUN_ON_ENGINE := $(UV) run $(ENGINE_EXTRA)
SCALE ?= small
SEED ?= 7
# The demo's as_of; AW_AS_OF (an ISO date or date-time, or `now`) overrides it, as everywhere.
AS_OF ?= $(or $(AW_AS_OF),2026-06-30T00:00:00Z)
LANDING ?= $(AW_LANDING_DIR)
# The browser the Dagster UI test drives (tests/pipeline/test_pipeline_dagster_ui.py).
AW_CHROMIUM ?= /usr/bin/chromium
HORIZON ?= 30,90
DBT_SOURCES := $(shell find models macros seeds -type f 2>/dev/null) dbt_project.yml profiles.yml selectors.yml

.PHONY: help setup browser run test test-spark dev data lint format example-online-retail backtest previews purge-landing clean \
	dbt segment segments query publish fake-esp consent-audit bench bench-triggered bench-references test-fast test-duckdb

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-24s %s\n", $$1, $$2}'

$(UV):
	@echo "uv not found: installing it with pip (user site)"
	python3 -m pip install --user --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen $(ENGINE_EXTRA)
	@touch $@

# dbt's partial parse keeps the selectors it parsed before: a changed selectors.yml parses in full.
target/manifest.json: .venv/.synced $(DBT_SOURCES)
	@$(UV) run python -m warehouse.dependencies refresh --quiet
	$(RUN_ON_ENGINE) dbt parse --quiet $(if $(filter selectors.yml,$?),--no-partial-parse)
	@$(RUN_ON_ENGINE) python -m warehouse.partial_parse target >/dev/null
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp orchestration/dagster.yaml $@

setup: .venv/.synced target/manifest.json $(DAGSTER_HOME)/dagster.yaml  ## Install the environment and build the dbt manifest

data: .venv/.synced  ## Generate demo data (SCALE=tiny|small|medium|large) unless landing files are already there
	@if [ -n "$$(find $(LANDING) -type f 2>/dev/null | head -n 1)" ]; then \
		echo "$(LANDING) already holds files: using them (remove it to regenerate demo data)"; \
	else \
		$(UV) run python -m datagen --scale $(SCALE) --seed $(SEED) --as-of $(AS_OF) --out $(LANDING); \
	fi

run: setup data  ## Run the whole pipeline through Dagster on the embedded DuckDB warehouse (AW_ENGINE=spark: on Spark)
	$(RUN_ON_ENGINE) python -m orchestration.run_pipeline --as-of $(AS_OF) $(if $(V),-v)

browser:  ## Install Debian's chromium for the Dagster UI test when it is missing (apt-get, as root or sudo)
	@if [ -x "$(AW_CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then \
		echo "$(AW_CHROMIUM) not found: installing Debian's chromium with apt-get"; \
		as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		$$as_root apt-get update -qq && \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-dejavu-core >/dev/null; \
	else \
		echo "$(AW_CHROMIUM) not found and apt-get needs root: the Dagster UI test will be skipped"; \
	fi

# The two suites run one after the other: side by side (make -j2) the whole took 1,476 s against
# about 1,520 s one after the other, 3 % less for twice the load and each test's time doubled.
test: setup browser  ## Lint and run every test, the Spark suite last (what CI runs)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run sqlfluff lint models --processes 2
	$(MAKE) --no-print-directory test-duckdb
	$(MAKE) --no-print-directory test-spark

test-duckdb: setup  ## Every test but the Spark suite (pytest, one worker per core)
	$(UV) run pytest

bench: setup  ## The pipeline through Dagster, full then a ~1 % increment: SCALE=10k|100k|1M (default 10k)
	$(UV) run python bench/bench_pipeline.py --scale $(if $(filter command line,$(origin SCALE)),$(SCALE),10k)

bench-triggered: setup  ## New web and order files to the (fake) ESPs: triggered_audiences vs daily_refresh, SCALE=10k|100k|1M (default 10k)
	$(UV) run python bench/bench_triggered.py --scale $(if $(filter command line,$(origin SCALE)),$(SCALE),10k)

bench-references: setup  ## dbt vs the hand-written DuckDB floor vs pandas on the core marts, same clean files, agreement checked first: SCALE=tiny|small|medium
	$(UV) run python bench/bench_references.py --scale $(SCALE)

test-fast: setup  ## The unit tests only: no warehouse builds, no dbt runs (tests marked slow are left out)
	$(UV) run pytest -m "not slow and not spark" -q

test-spark: setup  ## Build the tiny demo on DuckDB and on a local Spark session and compare the marts (installs the spark extra; Java 17)
	$(UV) run --extra spark pytest -n 0 -m spark tests/spark

dev: setup  ## Start the Dagster UI (http://127.0.0.1:3000) with a persistent DAGSTER_HOME under data/
	AW_AS_OF=$${AW_AS_OF:-$(AS_OF)} $(UV) run dagster dev -h 127.0.0.1 -p 3000

lint: setup  ## ruff and sqlfluff
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run sqlfluff lint models --processes 2

format: .venv/.synced  ## Apply ruff and sqlfluff fixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .
	$(UV) run sqlfluff fix models --processes 2

previews: .venv/.synced  ## Render e-mails per segment, RFM block and fallback to data/previews/ (after make run)
	$(UV) run python -m activation.previews --warehouse $${AW_WAREHOUSE_PATH:-data/warehouse.duckdb} \
		--out data/previews --per-segment 3 --segment-column segment_name

example-online-retail: setup  ## Run the pipeline on the UCI Online Retail export: ARGS="--as-of ... --backtest ..." passed through
	$(UV) run python -m examples.online_retail $(ARGS)

backtest: setup  ## Score at a past as_of and compare with what followed: AS_OF=2011-09-09 HORIZON=30,90 [LANDING= OUT= CURRENCY=]
	$(UV) run python -m orchestration.backtest --as-of $(AS_OF) --horizons $(HORIZON) --landing $(LANDING) \
		$(if $(OUT),--out $(OUT)) $(if $(CURRENCY),--reporting-currency $(CURRENCY)) $(if $(V),-v)

purge-landing: .venv/.synced  ## Rewrite the landing files without erased people's rows (BACKUP=1 keeps <file>.bak)
	$(UV) run python -m landing.purge $(if $(BACKUP),--backup)

dbt: setup  ## Run dbt the project's way: ARGS="build -s my_segment+" (registers the landing files first)
	@$(UV) run python -m warehouse.dependencies refresh --quiet
	@$(RUN_ON_ENGINE) python -m landing --quiet
	$(RUN_ON_ENGINE) dbt $(ARGS)

segment: .venv/.synced  ## Scaffold a segment: NAME=big_spenders [OWNER=... PRIORITY=... GROUP=... OFFER="..."]
	@test -n "$(NAME)" || { echo "usage: make segment NAME=<segment_name>"; exit 2; }
	$(UV) run python -m warehouse.segments new $(NAME) $(if $(OWNER),--owner "$(OWNER)") \
		$(if $(PRIORITY),--priority $(PRIORITY)) $(if $(GROUP),--campaign-group "$(GROUP)") \
		$(if $(OFFER),--offer "$(OFFER)") $(if $(DESCRIPTION),--description "$(DESCRIPTION)")

segments: .venv/.synced  ## List every segment file (and landed table) in the dependencies of the models reading them
	$(UV) run python -m warehouse.dependencies refresh

query: .venv/.synced  ## Query the warehouse read-only: SQL="select ..." (PUBLISHED=1 reads the BI snapshot)
	@$(UV) run python -m warehouse.query $(if $(PUBLISHED),--published) "$(SQL)"

publish: setup  ## Publish the current warehouse to the BI snapshot (after `make dbt`)
	$(UV) run python -m warehouse.publish

consent-audit: .venv/.synced  ## Check every file export against the consent oracle, from the landing files alone
	$(UV) run python -m warehouse.consent_audit --landing $(LANDING) \
		--exports $(or $(AW_ACTIVATION_FILE_DIR),data/activation) --as-of $(AS_OF)

fake-esp: .venv/.synced  ## Start the local fake ESP (PORT=8765, 0 picks a free one) and print its AW_ settings
	$(UV) run python -m fake_esp --port $(or $(PORT),0)

clean:  ## Remove generated data, dbt target and the environment
	rm -rf data target dbt_packages logs .venv
