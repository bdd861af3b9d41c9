# Intelligence CRM: `make demo` runs the product, `make test` runs the suite. Both install first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DAGSTER_DISABLE_TELEMETRY := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test coverage lint serve dagster mlflow jupyter bench

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	touch $(STAMP)

demo: setup
	$(VENV)/bin/crm demo

PYTEST := $(VENV)/bin/pytest -n 2 --dist loadfile --durations=25

test: setup
	$(VENV)/bin/ruff check .
	$(PYTEST)

# The same suite under coverage (about a quarter slower: every Python call is traced), failing under 90 %.
coverage: setup
	$(PYTEST) --cov --cov-report=term:skip-covered --cov-fail-under=90

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

serve: setup
	$(VENV)/bin/crm serve

# Analyst notebooks on the marts; kernels start in notebooks/, so CRM_HOME is passed as an absolute path.
# Jupyter refuses to run as root (containers, CI machines) unless told to.
jupyter: setup
	CRM_HOME=$${CRM_HOME:-$(CURDIR)/.crm} $(VENV)/bin/jupyter lab --notebook-dir=notebooks \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root) $(JUPYTER_ARGS)

# The MLflow UI on the project's tracking store (runs, model cards, registry with the champion aliases).
mlflow: setup
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(VENV)/bin/mlflow ui --host 127.0.0.1 --port $${MLFLOW_PORT:-5000} \
		--workers 1 --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$${CRM_HOME:-$(CURDIR)/.crm}/mlflow.db}"

# The Dagster UI on the project's instance ($CRM_HOME/dagster): asset graph (ingest, transform, publish, ml,
# serving), runs, the hourly schedule and the landing sensor. dagster.yaml is copied there first.
dagster: setup
	home=$${CRM_HOME:-$(CURDIR)/.crm}; mkdir -p $$home/dagster && cp dagster.yaml $$home/dagster/dagster.yaml && \
	CRM_HOME=$$home DAGSTER_HOME=$$home/dagster PATH=$(CURDIR)/$(VENV)/bin:$$PATH \
		$(VENV)/bin/dagster dev -m pipelines.definitions -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}
