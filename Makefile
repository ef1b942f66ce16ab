# Civicline. `make run` starts the assistant; `make test` builds what is missing and tests it all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENGINE_VENV := .venv-engine
APP_VENV    := .venv
ENGINE_OK   := $(ENGINE_VENV)/.installed
APP_OK      := $(APP_VENV)/.installed
PY          := $(APP_VENV)/bin/python
RASA        := $(ENGINE_VENV)/bin/rasa
MODEL       := models/civicline.tar.gz
TRAINING    := config.yml domain.yml $(wildcard data/nlu/*.yml) data/rules.yml data/stories.yml
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: help setup train run chat test lint validate test-python test-stories test-nlu bench clean

help:
	@echo "make run    – start the assistant (web chat on http://127.0.0.1:8000/)"
	@echo "make test   – build whatever is missing, then run every test"
	@echo "make train  – retrain the model if the training data changed"
	@echo "make chat   – chat with the running assistant in this terminal"
	@echo "make bench  – throughput, latency, memory; results in bench/results/"

# --- environments (idempotent: redone only when a lock file changes) -------------------------
$(ENGINE_OK): requirements/engine.lock scripts/find-python
	@py=$$(scripts/find-python 3.10) || exit 1; \
	  echo "engine environment: $$py"; \
	  [ -x $(ENGINE_VENV)/bin/python ] || $$py -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/engine.lock
	@touch $@

$(APP_OK): requirements/app.lock pyproject.toml scripts/find-python
	@py=$$(scripts/find-python 3.11+) || exit 1; \
	  echo "app environment: $$py"; \
	  [ -x $(APP_VENV)/bin/python ] || $$py -m venv $(APP_VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/app.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

setup: $(ENGINE_OK) $(APP_OK)

# --- the model: trained only when the training data changed -----------------------------------
$(MODEL): $(ENGINE_OK) $(TRAINING)
	@echo "training the model (a few minutes on 2 cores)…"
	$(RASA) train --fixed-model-name civicline --out models --quiet
	@touch $@

train: $(APP_OK)
	$(PY) -m bot.cli export-nlu
	@$(MAKE) --no-print-directory $(MODEL)

# --- running ---------------------------------------------------------------------------------------
run: setup train
	$(PY) -m bot.cli run

chat: $(APP_OK)
	$(PY) -m bot.cli chat

# --- tests -----------------------------------------------------------------------------------------
lint: $(APP_OK)
	$(APP_VENV)/bin/ruff check .
	$(APP_VENV)/bin/ruff format --check .

validate: $(ENGINE_OK)
	$(RASA) data validate --fail-on-warnings --quiet

test-python: $(APP_OK) $(MODEL)
	$(PY) -m pytest -q

test-stories: $(MODEL)
	$(RASA) test core --stories tests/test_stories.yml --model $(MODEL) \
	  --out var/results/stories --fail-on-prediction-errors --quiet

test-nlu: $(MODEL) $(APP_OK)
	$(RASA) test nlu --nlu tests/nlu_test_set.yml --model $(MODEL) --out var/results/nlu --quiet
	$(PY) scripts/nlu_report.py var/results/nlu

test: setup lint validate $(MODEL) test-python test-stories test-nlu
	@echo "all tests passed"

bench: setup $(MODEL)
	$(PY) -m bench

clean:
	rm -rf var/run var/results models/*.tar.gz
