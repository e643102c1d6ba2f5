"""llama.cpp through llama-cpp-python: GGUF f32, f16 and Q8_0, embeddings with last-token pooling.

Runs in .venv-llamacpp (`make peers-setup`, which builds llama-cpp-python from its sdist for this CPU and
keeps the sdist's own convert_hf_to_gguf.py and gguf-py, the same llama.cpp revision). The GGUF is
convert_hf_to_gguf.py's, straight from the checkpoint (--outtype f32 / f16 / q8_0); its pooling type
(LAST) comes from the checkpoint's sentence-transformers files, and it is asked for again at load.

The official vectors need <|endoftext|> (151643) at the end of every text. The converter reads the
tokenizer's post-processor (`$A <|endoftext|>`), makes <|endoftext|> the GGUF's EOS with add_eos_token,
and keeps <|im_end|> as EOT; `load` checks that llama.cpp's own tokenizer then ends a text with 151643
and refuses to run otherwise. `Llama.embed` packs whole texts into batches of --batch-tokens tokens
(n_ctx = n_batch = n_ubatch; llama-cpp-python's default is 512), each text its own sequence. The f32
row also keeps the KV cache in f32 (llama.cpp's default is f16, which alone moved tiny-shape vectors by
2e-4); f16 and Q8_0 keep the default.

llama-cpp-python's `embed` marks every token as an output, and llama.cpp's Qwen3 graph ends in the
(tied) vocabulary projection, so each token also pays for 151669 logits that pooling then ignores
(about a third more work at the 0.6B shape, most of the work at the tiny one): that is the engine as
users call it, and it is timed as such.
"""

from __future__ import annotations

import glob
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import END_OF_TEXT_ID, main

# q8_0-noextra: the same Q8_0 file, loaded with use_extra_bufts off (no AMX / repacked weight buffers).
# Where llama.cpp is built for a CPU with AMX-INT8 (GGML_NATIVE on Sapphire Rapids), Q8_0 weights go to its
# AMX buffer type, and on this project's Xeon that path died with SIGSEGV in llama_decode (tiny shapes).
VARIANTS = ["f32", "f16", "q8_0", "q8_0-noextra"]
NO_EXTRA = "-noextra"


def model_path(work: Path, variant: str) -> Path:
    return work / "gguf" / f"model-{variant.removesuffix(NO_EXTRA)}.gguf"


def converter() -> Path:
    """convert_hf_to_gguf.py of the llama.cpp that llama-cpp-python was built from (kept by `make peers-setup`)."""
    pattern = Path(sys.prefix) / "src" / "llama_cpp_python-*" / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
    found = sorted(glob.glob(str(pattern)))
    if not found:
        raise FileNotFoundError(f"no convert_hf_to_gguf.py under {sys.prefix}/src: run `make peers-setup`")
    return Path(found[-1])


def convert(model_dir: Path, work: Path, variant: str) -> dict:
    import llama_cpp

    target = model_path(work, variant)
    if variant.endswith(NO_EXTRA) and target.exists():
        return {"llama_cpp_python": llama_cpp.__version__, "note": f"reuses {target.name}"}
    target.parent.mkdir(parents=True, exist_ok=True)
    outtype = variant.removesuffix(NO_EXTRA)
    command = [sys.executable, str(converter()), str(model_dir), "--outfile", str(target), "--outtype", outtype]
    completed = subprocess.run(command, capture_output=True, text=True)
    log = (completed.stdout + completed.stderr).splitlines()
    if completed.returncode != 0:
        raise RuntimeError("convert_hf_to_gguf.py failed:\n" + "\n".join(log[-30:]))
    notes = [line for line in log if "WARNING" in line or "pooling" in line.lower() or "eos" in line.lower()]
    return {
        "llama_cpp_python": llama_cpp.__version__,
        "converter": str(converter().relative_to(sys.prefix)),
        "outtype": outtype,
        "converter_notes": notes[:20],
        "model_bytes": target.stat().st_size,
    }


def load(args):
    import llama_cpp
    import llama_cpp.llama_cpp as bindings

    if args.variant.endswith(NO_EXTRA):  # Llama() takes no such argument: change the defaults it starts from
        defaults = bindings.llama_model_default_params

        def without_extra_buffers():
            params = defaults()
            params.use_extra_bufts = False
            return params

        bindings.llama_model_default_params = without_extra_buffers

    # llama.cpp keeps its KV cache in f16 by default: the f32 row keeps it in f32, so that it is f32 throughout.
    kv_type = llama_cpp.GGML_TYPE_F32 if args.variant == "f32" else None
    llm = llama_cpp.Llama(
        model_path=str(model_path(args.work, args.variant)),
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
        n_ctx=args.batch_tokens,
        n_batch=args.batch_tokens,
        n_ubatch=args.batch_tokens,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=args.flash_attn,
        type_k=kv_type,
        type_v=kv_type,
        n_gpu_layers=0,
        verbose=False,
    )
    probe = llm.tokenize(b"a probe", add_bos=True)
    if probe[-1] != END_OF_TEXT_ID:
        raise RuntimeError(f"llama.cpp's tokenizer ends a text with {probe[-1]}, not <|endoftext|> {END_OF_TEXT_ID}")

    def embed(texts):
        vectors, count = llm.embed(texts, normalize=False, truncate=False, return_count=True)
        return np.asarray(vectors, dtype=np.float32), count

    facts = {
        "engine": "llama.cpp (llama-cpp-python)",
        "version": llama_cpp.__version__,
        "pooling_type": llm.pooling_type(),
        "n_threads": args.threads,
        "n_ctx_n_batch_n_ubatch": args.batch_tokens,
        "flash_attn": args.flash_attn,
        "use_extra_bufts": not args.variant.endswith(NO_EXTRA),
        "kv_cache_type": "f32" if kv_type is not None else "f16 (default)",
        "probe_tokens": probe,
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace"),
    }
    return embed, facts


if __name__ == "__main__":
    main(VARIANTS, convert, load)
