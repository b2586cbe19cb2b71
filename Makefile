# Two commands: `make serve` and `make test`. Each sets up everything it needs first.
# `make docs` builds the documentation site (docs/, mkdocs.yml) offline into var/site.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed

.PHONY: serve worker test lint docs bench setup tiny-models clean

# Reinstall only when the dependency list or the install script change.
$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh
	touch $(STAMP)

setup: $(STAMP)

serve: $(STAMP)
	@if [ "$$TTS_DEMO" = "1" ]; then $(MANAGE) make_tiny_models --skip-existing; fi
	$(MANAGE) migrate --noinput
	$(PY) -m config.serve

# TTS_EXECUTION=celery: one worker process per device (TTS_DEVICE), on CELERY_BROKER_URL and
# the web tier's DATABASE_URL (which `make serve` migrates).
worker: $(STAMP)
	@if [ "$$TTS_DEMO" = "1" ]; then $(MANAGE) make_tiny_models --skip-existing; fi
	$(VENV)/bin/celery -A config worker --concurrency 1 --without-mingle --without-gossip \
		--loglevel INFO $(WORKER_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(MANAGE) migrate --noinput
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest
	$(MAKE) --no-print-directory docs
	bash scripts/test_postgres.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Strict: a broken link or anchor, or a page missing from the nav, fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

bench: $(STAMP)
	HF_HUB_OFFLINE=1 bash bench/run_all.sh

tiny-models: $(STAMP)
	$(MANAGE) make_tiny_models

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
