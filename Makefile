# voxmcp: `make run` talks to the agent (local models + the bundled demo MCP server); `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
T := scripts/timed.sh
export HF_HUB_OFFLINE := 1
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
DEFAULT_MODELS := whisper-tiny.en qwen2.5-coder-0.5b hibari silero-vad

.PHONY: run install system venv models test test-fast test-deps conformance lint typecheck bench clean

run: install
	$(BIN)/voxmcp console

install: system venv models

system:
	@$(T) system-packages bash scripts/install_system.sh

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

# llama-cpp-python compiles from source (~20 min on 2 cores) the first time; pip's cache keeps the wheel after.
venv: $(BIN)/python
	@$(T) python-deps $(BIN)/pip install -q -e '.[dev]'

models: venv
	@$(T) models $(BIN)/voxmcp models assemble $(DEFAULT_MODELS)

test-deps: install
	@$(T) piper-user-voice sh -c "$(BIN)/pip install -q -e '.[piper]' && $(BIN)/voxmcp models assemble piper-joe"
	@$(T) flite-user-voice bash scripts/install_system.sh flite
	@$(T) llama-cpp-server $(BIN)/pip install -q 'llama-cpp-python[server]'  # docs/openai-compatible-llm.md
	@$(T) mcp-test-servers bash tests/mcp/node/install.sh
	@$(T) livekit-server bash scripts/livekit/install.sh
	@$(T) browser bash scripts/livekit/install_browser.sh

test: test-deps
	@$(T) pytest $(BIN)/pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/pytest -q -m "not e2e and not livekit and not conformance and not integration"

conformance: install
	@$(T) conformance bash scripts/conformance.sh

lint:
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck:
	$(BIN)/mypy

bench: install
	$(BIN)/voxmcp bench --runs 5 --json reports/bench.json

clean:
	rm -rf $(VENV) build dist *.egg-info
