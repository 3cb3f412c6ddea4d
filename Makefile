# The project's task runner. `make up` brings the platform up; `make test` runs every check.
VENV := .venv/bin
export PATH := $(CURDIR)/$(VENV):$(PATH)

.PHONY: bootstrap up down status test lint typecheck unit cluster-test protos docs lock audit

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
	$(VENV)/pytest --ignore=tests/cluster
	$(MAKE) cluster-test

# A real single-node Kubernetes made on this machine (tests/cluster/README.md): prepared (cached
# under ~/.cache/flightctl/k8s), brought up by the tests' fixture, taken down after them.
cluster-test: bootstrap
	tests/cluster/k8s-local.sh install
	tests/cluster/k8s-local.sh build
	tests/cluster/k8s-local.sh images
	$(VENV)/pytest tests/cluster

unit: bootstrap
	$(VENV)/pytest tests/unit

protos:
	$(VENV)/python scripts/gen_protos.py

docs:
	$(VENV)/python scripts/gen_config_doc.py
	$(VENV)/python scripts/gen_cli_doc.py

lock:
	$(VENV)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

# Known vulnerabilities in the pinned set (pip-audit against osv.dev; needs that service: it
# fails, never passes, where the database cannot be reached).
audit: bootstrap
	$(VENV)/python scripts/audit.py
