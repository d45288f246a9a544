# Samokoder: `make run` starts the app with embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

# Debian packages the test suite drives: the browser, its driver, the sandbox, gettext, nginx, the
# package proxy (Squid) and its socket bridge (socat), and the runtimes installs use.
TEST_APT_PACKAGES := chromium chromium-driver bubblewrap gettext nginx squid socat python3-venv python3-pip nodejs docker-compose
# What `make run` needs for generated code: the sandbox, the package proxy, its bridge.
SANDBOX_APT_PACKAGES := bubblewrap squid socat nginx

.PHONY: run scale test lint bench setup install install-dev system-deps sandbox-deps sandbox-limits sandbox-image app-image deploy-check messages migrate format clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when pyproject.toml changed, so a second `make run` starts in seconds.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

messages: $(VENV)/.installed
	$(BIN)/python scripts/compile_messages.py

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input -v 0

setup: install messages migrate

# The embedded sandbox, the package proxy and the preview origin's front (nginx). Without
# them the app still starts, and a generation that reaches a command (or an install) stops
# with the same instruction: generated code never runs unsandboxed, and never reaches the
# network but the registries; without nginx the preview listener says how to install it.
sandbox-deps:
	@missing=$$(for p in $(SANDBOX_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing $$missing (the sandbox for generated code, its package proxy, the preview front)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "WARNING: $$missing missing, so generated code cannot run or install packages."; \
	  echo "Install with: sudo apt-get install $$missing"; \
	fi

# Per-command cgroups (memory, CPU share, processes) need writable cgroups; without them
# commands still run, limited by rlimits only, and this says so (as /readyz does).
sandbox-limits: $(VENV)/.installed
	@$(BIN)/python -m execution.backends.cgroups

run: setup sandbox-deps sandbox-limits
	$(BIN)/python scripts/with_redis.py $(BIN)/python scripts/with_proxy.py $(BIN)/python scripts/run.py

# The production process model on one machine: N web processes behind nginx, M workers,
# beat, the preview origin and its worker.
WEB ?= 2
WORKERS ?= 2
scale: setup sandbox-deps system-deps
	$(BIN)/python scripts/with_redis.py $(BIN)/python scripts/with_proxy.py $(BIN)/python scripts/scale.py --web $(WEB) --workers $(WORKERS)

system-deps:
	@missing=$$(for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The test suite needs these Debian packages: $$missing"; \
	    echo "Install them with: sudo apt-get install $$missing"; exit 1; \
	  fi; \
	fi

# The Docker sandbox for the escape probes: a daemon (started when none answers) and the
# base image built from Debian packages (cached under var/sandbox after the first build).
sandbox-image:
	bash scripts/dockerd.sh
	bash scripts/build_sandbox_image.sh

# The app image (deploy/Dockerfile) built here on a base made from Debian packages; where a
# registry is reachable, `docker build -f deploy/Dockerfile .` gives the same image.
app-image:
	bash scripts/dockerd.sh
	bash scripts/build_app_image.sh

# The compose stack brought up for real on this host's daemon and checked end to end through
# the balancer, then taken down (scripts/compose_check.py: images from Debian packages,
# web=2 worker=2, probes, API, WebSocket, a generation run, static files, web scaled to 3).
# Minutes and a dozen containers: not part of `make test`. DEPLOY_CHECK_ARGS: --no-build, --keep.
deploy-check: install
	bash scripts/dockerd.sh
	$(BIN)/python scripts/compose_check.py $(DEPLOY_CHECK_ARGS)

test: install-dev system-deps messages sandbox-image
	$(BIN)/python scripts/with_redis.py $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python scripts/check_translations.py
	$(BIN)/python scripts/check_catalogue_fresh.py

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf --one-file-system $(VENV) var

bench: install-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/storage.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/llm_parallel.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/sandbox.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/pipeline.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/websocket.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/api_load.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/packages.py
	$(BIN)/python scripts/with_redis.py $(BIN)/python bench/previews.py
