# The project's task runner. `make up` brings the platform up; `make test` runs every check.
VENV := .venv/bin
export PATH := $(CURDIR)/$(VENV):$(PATH)

.PHONY: bootstrap up down status test lint typecheck unit protos docs lock

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	$(VENV)/flightctl up --local

down:
	$(VENV)/flightctl down --local

status:
	$(VENV)/flightctl status

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/python scripts/gen_protos.py --check
	$(VENV)/python scripts/gen_config_doc.py --check
	$(VENV)/python scripts/gen_cli_doc.py --check

typecheck:
	$(VENV)/mypy src

test: bootstrap lint typecheck
	$(VENV)/pytest

unit: bootstrap
	$(VENV)/pytest tests/unit

protos:
	$(VENV)/python scripts/gen_protos.py

docs:
	$(VENV)/python scripts/gen_config_doc.py
	$(VENV)/python scripts/gen_cli_doc.py

lock:
	$(VENV)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
