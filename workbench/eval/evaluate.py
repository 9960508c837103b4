"""Predictions against ground truth: T-F-Score, the text metrics on matched pairs, optional LLM judges.

Inputs (``biocoach eval PRED --gt GT``):
- predictions: the challenge submission ``[{"mini_episode_id", "pred_feedbacks", "pred_feedback_timestamps"}]``,
  or analysis JSONs (``biocoach.analysis/1``; a file or a folder of them) whose ``feedback`` items give
  ``t_s`` and ``text``; the clip id is the JSON's ``mini_episode_id``/``clip_id`` key, else the file name stem.
- ground truth: a QEVD-fit-coach split folder (segments as :mod:`workbench.data.qevd` builds them), or
  ``[{"mini_episode_id", "feedbacks", "feedback_timestamps"}]`` with times in seconds from the clip start.

A ground-truth clip without predictions counts as predicting nothing (as the reference); predictions for a
clip the ground truth does not hold are left out and listed.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import current_limits
from workbench.data.qevd import QevdWarning, find_split, load_split
from workbench.errors import WorkbenchError
from workbench.eval import text_metrics as tm
from workbench.eval.judges import judge_pairs
from workbench.eval.numbers import NumbersReport, check_clip, grounding_context
from workbench.eval.text_metrics import mean
from workbench.eval.tfscore import TOLERANCE_S, ClipFeedback, TFScore, t_f_score
from workbench.io.inputs import read_json
from workbench.limits import exceeded
from workbench.llm import get_client

JSON_SCHEMA = "biocoach.evaluation/1"


class EvalInputError(WorkbenchError):
    """A predictions or ground-truth file is not in a format ``biocoach eval`` reads."""


@dataclass(frozen=True)
class Clip:
    clip_id: str
    texts: tuple[str, ...]
    times: tuple[float, ...]
    exercise: str | None = None
    # per predicted utterance, the context it was spoken against (None: not recorded); the numbers check
    contexts: tuple[str | None, ...] = ()


@dataclass
class EvalSettings:
    text_metrics: bool = True
    bertscore: bool = True
    judges: tuple[str, ...] = ()  # "llm_accuracy", "llm_bio_accuracy"
    judge_limit: int | None = None
    skip_empty: bool = False
    tolerance_s: float = TOLERANCE_S

    def to_json(self) -> dict[str, Any]:
        return {
            "text_metrics": self.text_metrics,
            "bertscore": self.bertscore,
            "judges": list(self.judges),
            "judge_limit": self.judge_limit,
            "skip_empty": self.skip_empty,
            "tolerance_s": self.tolerance_s,
        }


@dataclass
class EvalResult:
    dataset: str
    predictions: str
    ground_truth: str
    summary: dict[str, Any]
    per_clip: list[dict[str, Any]]
    models: dict[str, str]
    settings: EvalSettings
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": JSON_SCHEMA,
            **self.summary,
            "models": dict(self.models),
            "dataset": self.dataset,
            "predictions": self.predictions,
            "ground_truth": self.ground_truth,
            "settings": self.settings.to_json(),
            "warnings": list(self.warnings),
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "per_clip": self.per_clip,
        }


# ------------------------------------------------------------------------------------------------ reading


def load_ground_truth(path: str | Path, split: str = "test") -> tuple[str, dict[str, Clip]]:
    """(dataset name, clips by id) from a QEVD split folder or a ground-truth JSON list."""
    p = Path(path)
    if p.is_dir():
        folder = find_split(p, split)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QevdWarning)
            sessions = load_split(folder, with_tracks=False)
        clips = {
            s.session_id: Clip(
                s.session_id, tuple(u.text for u in s.utterances), tuple(u.t_s for u in s.utterances), s.exercise
            )
            for s in sessions
        }
        return folder.name, clips
    items = _json_list(p, "ground truth")
    clips = {}
    for i, item in enumerate(items):
        cid = _field(item, "mini_episode_id", p, i, str)
        texts = _field(item, "feedbacks", p, i, list)
        times = _field(item, "feedback_timestamps", p, i, list)
        _check_pair(p, i, "feedbacks", texts, "feedback_timestamps", times)
        clips[cid] = Clip(
            cid,
            tuple(texts),
            tuple(float(t) for t in times),
            item.get("exercise") if isinstance(item.get("exercise"), str) else None,
        )
    return p.stem, clips


def load_predictions(path: str | Path) -> dict[str, Clip]:
    """Clips by id from a submission JSON list, an analysis JSON or a folder of analysis JSONs."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.json"))
        if not files:
            raise EvalInputError(f"{p}: expected analysis JSON files (*.json) in the folder, found none")
        out: dict[str, Clip] = {}
        for f in files:
            out.update(load_predictions(f))
        return out
    data = _read_json(p, "predictions file not found")
    if isinstance(data, dict) and "feedback" in data:
        return {_analysis_id(data, p): _analysis_clip(data, p)}
    if not isinstance(data, list):
        raise EvalInputError(
            f"{p}: expected a submission list [{{mini_episode_id, pred_feedbacks, "
            f"pred_feedback_timestamps}}] or an analysis JSON, got {type(data).__name__}"
        )
    clips: dict[str, Clip] = {}
    for i, item in enumerate(data):
        if isinstance(item, dict) and "feedback" in item:
            clip = _analysis_clip(item, p, i)
            clips[_analysis_id(item, p, i)] = clip
            continue
        cid = _field(item, "mini_episode_id", p, i, str)
        texts = _field(item, "pred_feedbacks", p, i, list)
        times = _field(item, "pred_feedback_timestamps", p, i, list)
        _check_pair(p, i, "pred_feedbacks", texts, "pred_feedback_timestamps", times)
        if cid in clips:
            raise EvalInputError(f"{p} item {i}: mini_episode_id {cid!r:.80} appears twice")
        clips[cid] = Clip(cid, tuple(texts), tuple(float(t) for t in times), contexts=_contexts(item, p, i, len(texts)))
    return clips


def _contexts(item: dict[str, Any], p: Path, i: int, n: int) -> tuple[str | None, ...]:
    """A submission's optional ``pred_contexts``: one string (or null) per predicted utterance."""
    raw = item.get("pred_contexts")
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) != n or not all(c is None or isinstance(c, str) for c in raw):
        raise EvalInputError(
            f"{p} item {i}: field 'pred_contexts': expected a list of {n} strings or nulls (one per pred_feedbacks)"
        )
    for j, c in enumerate(raw):
        if c is not None:
            _check_text(c, f"{p} item {i}: field 'pred_contexts'[{j}]")
    return tuple(raw)


def _analysis_context(fb: dict[str, Any]) -> str | None:
    """The context of an analysis JSON's feedback item: its evidence's C_motion and reps completed."""
    ev = fb.get("evidence")
    if not isinstance(ev, dict):
        return None
    motion = ev.get("context_motion") if isinstance(ev.get("context_motion"), str) else None
    reps = ev.get("reps_done") if _number(ev.get("reps_done")) else None
    return grounding_context(motion or None, None if reps is None else int(reps))


def _analysis_id(data: dict[str, Any], p: Path, i: int | None = None) -> str:
    for key in ("mini_episode_id", "clip_id", "session_id"):
        if isinstance(data.get(key), str):
            return str(data[key])
    if i is not None:
        raise EvalInputError(f"{p} item {i}: an analysis in a list needs a 'mini_episode_id' or 'clip_id'")
    return p.stem


def _analysis_clip(data: dict[str, Any], p: Path, i: int | None = None) -> Clip:
    where = f"{p}" + (f" item {i}" if i is not None else "")
    items = data.get("feedback")
    if not isinstance(items, list):
        raise EvalInputError(f"{where}: field 'feedback': expected a list of {{t_s, text}}, got {type(items).__name__}")
    texts, times, contexts = [], [], []
    for j, fb in enumerate(items):
        if not isinstance(fb, dict) or not isinstance(fb.get("text"), str) or not _number(fb.get("t_s")):
            raise EvalInputError(f"{where}: feedback[{j}]: expected {{'t_s': number, 'text': string}}, got {fb!r:.80}")
        _check_text(fb["text"], f"{where}: feedback[{j}].text")
        _check_seconds(fb["t_s"], f"{where}: feedback[{j}].t_s")
        texts.append(fb["text"])
        times.append(float(fb["t_s"]))
        contexts.append(_analysis_context(fb))
    recorded = tuple(contexts) if any(c is not None for c in contexts) else ()  # (): none recorded
    return Clip(_analysis_id(data, p, i), tuple(texts), tuple(times), data.get("exercise"), recorded)


def _read_json(p: Path, missing: str) -> Any:
    """Strict JSON (workbench.io.inputs.read_json): UTF-8, standard numbers, within the input limits."""
    if not p.exists():
        raise EvalInputError(f"{p}: {missing}")
    return read_json(p, EvalInputError)


def _json_list(p: Path, what: str) -> list[Any]:
    data = _read_json(p, f"{what} file or QEVD split folder not found")
    if not isinstance(data, list):
        raise EvalInputError(
            f"{p}: expected a list of {{mini_episode_id, feedbacks, feedback_timestamps}}, got {type(data).__name__}"
        )
    return data


def _field(item: Any, key: str, p: Path, i: int, kind: type) -> Any:
    if not isinstance(item, dict):
        raise EvalInputError(f"{p} item {i}: expected an object, got {type(item).__name__}")
    if key not in item:
        raise EvalInputError(f"{p} item {i}: expected field {key!r}, got fields {', '.join(sorted(item))}")
    if not isinstance(item[key], kind):
        raise EvalInputError(f"{p} item {i}: field {key!r}: expected {kind.__name__}, got {type(item[key]).__name__}")
    return item[key]


def _check_pair(p: Path, i: int, a: str, texts: list[Any], b: str, times: list[Any]) -> None:
    if len(texts) != len(times):
        raise EvalInputError(f"{p} item {i}: expected as many {b} as {a}, got {len(times)} and {len(texts)}")
    for j, text in enumerate(texts):
        if not isinstance(text, str):
            raise EvalInputError(
                f"{p} item {i}: field {a!r}[{j}]: expected text (a string), got "
                f"{_json_type(text)} {json.dumps(text)[:60]}"
            )
        _check_text(text, f"{p} item {i}: field {a!r}[{j}]")
    bad = [j for j, t in enumerate(times) if not _number(t)]
    if bad:
        raise EvalInputError(
            f"{p} item {i}: field {b!r}[{bad[0]}]: expected seconds (a number), got {json.dumps(times[bad[0]])[:60]}"
        )
    for j, t in enumerate(times):
        _check_seconds(t, f"{p} item {i}: field {b!r}[{j}]")


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _check_seconds(t: float, where: str) -> None:
    """A time stamp: finite seconds from the clip's start, within ``limits.max_duration_s``."""
    most = current_limits().max_duration_s
    if not 0 <= t <= most:
        raise EvalInputError(
            f"{where}: expected seconds in [0, {most:g}] (from the clip's start; limit max_duration_s), got {t:g}"
        )


def _check_text(text: str, where: str) -> None:
    most = current_limits().max_string_chars
    if len(text) > most:
        raise EvalInputError(f"{where}: {exceeded('characters', len(text), most, 'max_string_chars')}")


def _json_type(x: Any) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
        list: "a list",
    }.get(type(x), type(x).__name__)


# ------------------------------------------------------------------------------------------------ scoring


def evaluate(
    predictions: dict[str, Clip],
    ground_truth: dict[str, Clip],
    *,
    settings: EvalSettings | None = None,
    config: Any = None,
    dataset: str = "",
    predictions_label: str = "",
    ground_truth_label: str = "",
    judge_client: Any = None,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Score every ground-truth clip (missing predictions = none) and pool the counts."""
    settings = settings or EvalSettings()
    say = progress or (lambda _msg: None)
    notes: list[str] = []
    extra = sorted(set(predictions) - set(ground_truth))
    if extra:
        notes.append(f"{len(extra)} predicted clip(s) not in the ground truth, left out: {', '.join(extra[:10])}")
    missing = sorted(set(ground_truth) - set(predictions))
    if missing:
        notes.append(
            f"{len(missing)} ground-truth clip(s) without predictions, scored as predicting nothing: "
            f"{', '.join(missing[:10])}"
        )
    order = sorted(ground_truth)
    clips = [
        ClipFeedback(
            cid,
            ground_truth[cid].texts,
            ground_truth[cid].times,
            predictions[cid].texts if cid in predictions else (),
            predictions[cid].times if cid in predictions else (),
        )
        for cid in order
    ]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    score = t_f_score(clips, skip_empty=settings.skip_empty, tolerance_s=settings.tolerance_s)
    timings["t_f_score"] = time.perf_counter() - t0
    by_id = {c.clip_id: c for c in clips}
    pairs = [(m.clip_id, gi, pj) for m in score.clips for gi, pj in m.pairs]
    refs = [by_id[c].gt_texts[gi] for c, gi, _ in pairs]
    hyps = [by_id[c].pred_texts[pj] for c, _, pj in pairs]

    models: dict[str, str] = {}
    meteor_s: list[float] = []
    rouge_s: list[float] = []
    bert_s: list[float] = []
    if settings.text_metrics and pairs:
        say(f"METEOR and ROUGE-L on {len(pairs)} matched pairs …")
        t0 = time.perf_counter()
        meteor_s = [tm.meteor(r, h) for r, h in zip(refs, hyps, strict=True)]
        rouge_s = [tm.rouge_l(r, h) for r, h in zip(refs, hyps, strict=True)]
        timings["meteor_rouge"] = time.perf_counter() - t0
    if settings.text_metrics:
        models["meteor"] = "nltk single_meteor_score (alpha 0.9, beta 3, gamma 0.5), WordNet 3.0 (Debian)"
        models["rouge_l"] = "rouge_score rougeL F-measure, no stemmer"
    if settings.text_metrics and settings.bertscore:
        scorer = tm.bert_scorer(config)
        models["bertscore"] = scorer.name
        if pairs:
            say(f"BERTScore ({scorer.name}) …")
            t0 = time.perf_counter()
            bert_s = scorer.score(refs, hyps)
            timings["bertscore"] = time.perf_counter() - t0

    judged: dict[str, Any] = {}
    if settings.judges:
        client = judge_client
        if client is None:
            client = get_client(config, role="judge")
        models["judge"] = client.model_name
        for kind in settings.judges:
            say(
                f"{kind} with {client.model_name} on "
                f"{len(pairs) if settings.judge_limit is None else min(len(pairs), settings.judge_limit)} pairs …"
            )
            t0 = time.perf_counter()
            judged[kind] = judge_pairs(
                client,
                kind,  # type: ignore[arg-type]
                list(zip(refs, hyps, strict=True)),
                limit=settings.judge_limit,
            )
            timings[kind] = time.perf_counter() - t0
            models["judge"] = judged[kind].model

    checks = {
        cid: check_clip(predictions[cid].texts, predictions[cid].contexts, predictions[cid].times)
        for cid in order
        if cid in predictions
    }
    numbers = NumbersReport().merge(checks.values())
    if numbers.n_without_context:
        notes.append(
            f"numbers check: {numbers.n_without_context} predicted utterance(s) without a recorded context, not "
            "checked (predictions from `biocoach data predict` / `biocoach coach` carry it)"
        )
    summary: dict[str, Any] = {
        "t_f_score": score.f_score,
        "precision": score.precision,
        "recall": score.recall,
        "n_gt": score.n_gt,
        "n_pred": score.n_pred,
        "n_matched": score.matched_gt,
        "n_matched_pred": score.matched_pred,
        "n_clips": len(score.clips),
        "skipped_clips": list(score.skipped),
        "meteor": tm.mean(meteor_s) if settings.text_metrics else None,
        "rouge_l": tm.mean(rouge_s) if settings.text_metrics else None,
        "bertscore": tm.mean(bert_s) if settings.text_metrics and settings.bertscore else None,
        "llm_accuracy": judged["llm_accuracy"].mean if "llm_accuracy" in judged else None,
        "llm_bio_accuracy": judged["llm_bio_accuracy"].mean if "llm_bio_accuracy" in judged else None,
        "judges": {k: v.to_json() for k, v in judged.items()},
        **numbers.summary(),
    }
    per_pair_index = {p: k for k, p in enumerate(pairs)}
    per_clip = [
        _clip_row(
            m, by_id[m.clip_id], ground_truth[m.clip_id].exercise, per_pair_index, meteor_s, rouge_s, bert_s, judged
        )
        | _numbers_row(checks.get(m.clip_id))
        for m in score.clips
    ]
    return EvalResult(
        dataset=dataset,
        predictions=predictions_label,
        ground_truth=ground_truth_label,
        summary=summary,
        per_clip=per_clip,
        models=models,
        settings=settings,
        warnings=notes,
        timings_s=timings,
    )


def _numbers_row(rep: NumbersReport | None) -> dict[str, Any]:
    rep = rep or NumbersReport()
    return {
        "numbers_grounded": rep.numbers_grounded,
        "n_numbers_checked": rep.n_numbers,
        "ungrounded_numbers": rep.ungrounded,
    }


def _clip_row(
    m: Any,
    clip: ClipFeedback,
    exercise: str | None,
    index: dict[tuple[str, int, int], int],
    meteor_s: Sequence[float],
    rouge_s: Sequence[float],
    bert_s: Sequence[float],
    judged: dict[str, Any],
) -> dict[str, Any]:
    one = TFScore(m.n_gt, m.n_pred, m.matched_gt, m.matched_pred)
    matches = []
    ks = []
    for gi, pj in m.pairs:
        k = index[(m.clip_id, gi, pj)]
        ks.append(k)
        row: dict[str, Any] = {
            "gt_t": clip.gt_times[gi],
            "pred_t": clip.pred_times[pj],
            "gt": clip.gt_texts[gi],
            "pred": clip.pred_texts[pj],
        }
        for name, values in (("meteor", meteor_s), ("rouge_l", rouge_s), ("bertscore", bert_s)):
            row[name] = values[k] if k < len(values) else None
        for kind, res in judged.items():
            row[kind] = res.per_pair[k] if k < len(res.per_pair) else None
        matches.append(row)
    got_gt = {gi for gi, _ in m.pairs}
    got_pred = {pj for _, pj in m.pairs}

    def avg(values: Sequence[float]) -> float | None:
        return mean([values[k] for k in ks]) if values and ks else None

    return {
        "clip_id": m.clip_id,
        "exercise": exercise,
        "n_gt": m.n_gt,
        "n_pred": m.n_pred,
        "matched_gt": m.matched_gt,
        "matched_pred": m.matched_pred,
        "precision": one.precision,
        "recall": one.recall,
        "t_f_score": one.f_score,
        "meteor": avg(meteor_s),
        "rouge_l": avg(rouge_s),
        "bertscore": avg(bert_s),
        "matches": matches,
        "missed": [{"t": clip.gt_times[i], "text": clip.gt_texts[i]} for i in range(m.n_gt) if i not in got_gt],
        "spurious": [
            {"t": clip.pred_times[j], "text": clip.pred_texts[j]} for j in range(m.n_pred) if j not in got_pred
        ],
    }


# ------------------------------------------------------------------------------------------------ output


def overall_table(result: EvalResult) -> str:
    s = result.summary
    rows = [
        ("T-F-Score", _f(s["t_f_score"])),
        ("precision", _f(s["precision"])),
        ("recall", _f(s["recall"])),
        ("ground truth / predicted / matched", f"{s['n_gt']} / {s['n_pred']} / {s['n_matched']}"),
        ("METEOR", _f(s["meteor"])),
        ("ROUGE-L", _f(s["rouge_l"])),
        (
            "BERTScore",
            _f(s["bertscore"]) + (f"  [{result.models['bertscore']}]" if "bertscore" in result.models else ""),
        ),
    ]
    for kind, label in (("llm_accuracy", "LLM-Accuracy"), ("llm_bio_accuracy", "LLM-Bio-Accuracy")):
        j = s["judges"].get(kind)
        if j:
            rows.append(
                (
                    label,
                    f"{_f(j['mean'])}  [judge {j['model']}; {j['n_scored']} scored, {j['n_dropped']} "
                    f"unparsable dropped, of {j['n_available']} pairs]",
                )
            )
        else:
            rows.append((label, "not judged (--judge)"))
    if s.get("n_utterances_checked") or s.get("n_utterances_without_context"):
        rows.append(
            (
                "numbers grounded (±1)",
                f"{_f(s['numbers_grounded'])}  [{s['n_numbers_grounded']} of {s['n_numbers_checked']} numbers "
                "stated in the context the coach saw]",
            )
        )
        rows.append(
            (
                "utterances all grounded",
                f"{_f(s['utterances_all_grounded'])}  [of {s['n_utterances_checked']} utterances; "
                f"{s['n_utterances_without_numbers']} state no number; {s['n_utterances_without_context']} without "
                "context, not checked]",
            )
        )
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def clip_table(result: EvalResult) -> str:
    head = (
        f"{'clip':<16} {'exercise':<18} {'gt':>4} {'pred':>5} {'m_gt':>5} {'m_pr':>5} {'T-F':>6} {'METEOR':>7} "
        f"{'ROUGE-L':>7} {'BERT':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in result.per_clip:
        lines.append(
            f"{r['clip_id'][:16]:<16} {str(r['exercise'] or '')[:18]:<18} {r['n_gt']:>4} {r['n_pred']:>5} "
            f"{r['matched_gt']:>5} {r['matched_pred']:>5} {r['t_f_score']:>6.3f} {_f(r['meteor']):>7} "
            f"{_f(r['rouge_l']):>7} {_f(r['bertscore']):>6}"
        )
    return "\n".join(lines)


def _f(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}"
