"""Review page: the expert review loop, from proposals to agreement figures (workbench.review).

It acts as ``biocoach review propose | push | pull`` do, with their functions and defaults:

* **Propose** — pick clips (the store's registered clips and the clip files under the data folders the app
  allows, ``AppState.allowed``), an exercise and whether to propose static/dynamic roles too; the model is the
  one the CLI asks (the configured ``llm_endpoint``, else the local model decoded by the int8 ``FastLocalClient``,
  ~30–60 s an answer on a CPU). It runs in a background thread with progress and a Cancel (which stops before
  the next model answer; what was answered is stored). The proposals table keeps the model's own joints apart
  from the catalogue's fill-ins.
* **Push / Pull** — to and from Label Studio, URL and token resolved as the CLI resolves them.

Then: proposal vs expert precision and recall on the model's own joints (overall, per exercise, per joint),
static/dynamic roles kept, Cohen's kappa where two experts labelled the same task, and the labels themselves.

Two environment variables stand in for the CLI's folder options (the page has no command line):
``BIOCOACH_LS_DATA_DIR`` (``--data-dir``: Label Studio's data folder, default ``.labelstudio/``) and
``BIOCOACH_PROPOSALS_DIR`` (``--export-dir``: where proposal JSON goes, default ``annotations/proposals/``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.config import load_config
from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.llm.client import Completion, LLMClient, LocalClient, OpenAICompatibleClient, get_client
from workbench.review.agreement import agreement
from workbench.review.client import LabelStudioClient
from workbench.review.decoding import FastLocalClient
from workbench.review.proposals import DEFAULT_EXPORT_DIR, DEFAULT_WINDOW_S, describe, propose_roles, propose_salient
from workbench.review.server import DEFAULT_DATA_DIR, DEFAULT_PORT, api_token
from workbench.review.sync import pull, push
from workbench.store.reviews import ProposalRow, ReviewRepository

POLL_MS = 500
EMPTY = (
    "No proposals yet: propose salient joints for clips first (pick clips and an exercise below and press "
    "Propose, or run `biocoach review propose CLIPS -e EXERCISE`), then press Push to send them to Label "
    "Studio."
)
LS_DATA_ENV, EXPORT_ENV = "BIOCOACH_LS_DATA_DIR", "BIOCOACH_PROPOSALS_DIR"
PROPOSAL_COLUMNS = (
    "proposal",
    "kind",
    "exercise",
    "clip",
    "segment",
    "time_s",
    "status",
    "parse",
    "model",
    "model's joints",
    "catalogue fill-ins",
    "as the CLI prints it",
)


def label_studio() -> tuple[Any, Path]:
    """The Label Studio client and data folder exactly as `biocoach review push|pull` make them: the URL from
    the configuration (label_studio_url, else 127.0.0.1 on the default port), the token from the data folder."""
    data_dir = Path(os.environ.get(LS_DATA_ENV) or DEFAULT_DATA_DIR).resolve()
    url = load_config().label_studio_url or f"http://127.0.0.1:{DEFAULT_PORT}"
    return LabelStudioClient(url, api_token(data_dir)), data_dir


class SyncJob:
    """Push or pull in a background thread; ``message`` is one line for the page (the outcome or the error)."""

    def __init__(self, action: str, db: Any):
        self.action, self.db = action, db
        self.message = f"{action.capitalize()} running …"
        self.finished = False

    def run(self) -> None:
        try:
            client, data_dir = label_studio()
            result = push(self.db, client, data_dir) if self.action == "push" else pull(self.db, client)
            self.message = f"{self.action.capitalize()}: {result.line()}"
        except Exception as exc:  # one line on the page, never a traceback
            text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            self.message = f"{self.action.capitalize()} failed: {text}"
        finally:
            self.finished = True

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"biocoach-review-{self.action}", daemon=True).start()


# ---------------------------------------------------------------------------------------------- propose

_LOCAL_CLIENTS: dict[tuple[str, ...], LLMClient] = {}  # the local model loads once per process, not per press
_LOCAL_LOCK = threading.Lock()


def proposal_client() -> LLMClient:
    """The model ``biocoach review propose`` asks by default (``--decoder int8``): the configured endpoint, else the
    local model, decoded by ``FastLocalClient`` on the CPU (``LocalClient`` on CUDA). A local one is kept for
    the process: loading it takes seconds and its decoder serves one completion at a time."""
    config = load_config()
    client = get_client(config)
    if not isinstance(client, LocalClient):
        return client
    fast = config.device != "cuda"
    key = ("int8" if fast else "transformers", str(config.language_model), str(config.model_cache_dir))
    with _LOCAL_LOCK:
        if key not in _LOCAL_CLIENTS:
            _LOCAL_CLIENTS[key] = (
                FastLocalClient(config.language_model, cache=config.model_cache_dir) if fast else client
            )
        return _LOCAL_CLIENTS[key]


def export_dir() -> Path:
    """Where proposal JSON goes: ``$BIOCOACH_PROPOSALS_DIR``, else the CLI's default (annotations/proposals/)."""
    return Path(os.environ.get(EXPORT_ENV) or DEFAULT_EXPORT_DIR)


class ProposeCancelled(Exception):
    """The user pressed Cancel: stop before the next model answer."""


class _Watched:
    """The job's model as the proposal functions see it: the same model (name, answers, class: ``isinstance``
    consults ``__class__``, so a served model still gets frames), counting answers and stopping on Cancel."""

    def __init__(self, inner: LLMClient, job: ProposeJob):
        self._inner, self._job = inner, job

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._inner)

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    def complete(self, messages: Any, **kw: Any) -> Completion:
        self._job.before_answer()
        start = time.perf_counter()
        out = self._inner.complete(messages, **kw)
        self._job.after_answer(time.perf_counter() - start)
        return out


class ProposeJob:
    """``biocoach review propose`` in a background thread: ``message`` is one line on how far it got, then the
    outcome; ``created`` the proposals it stored."""

    def __init__(
        self,
        db: Any,
        clips: list[str],
        exercise: str,
        roles: bool,
        make_client: Callable[[], LLMClient] = proposal_client,
        export: Path | None = None,
        window_s: float = DEFAULT_WINDOW_S,
    ):
        self.db, self.clips, self.exercise, self.roles = db, list(clips), exercise, roles
        self.make_client, self.export, self.window_s = make_client, export or export_dir(), window_s
        self.message = "Propose: loading the model …"
        self.created: list[ProposalRow] = []
        self.existing = 0
        self.answers = 0
        self.finished = False
        self._cancel = threading.Event()
        self._where = ""
        self._seconds: list[float] = []

    def cancel(self) -> None:
        self._cancel.set()
        if not self.finished:
            self.message = f"Propose: cancel requested, stopping after the current model answer ({self._where}) …"

    def before_answer(self) -> None:
        if self._cancel.is_set():
            raise ProposeCancelled
        each = f", ~{sum(self._seconds) / len(self._seconds):.0f} s each" if self._seconds else ""
        self.message = f"Propose: {self._where}: asking the model (answer {self.answers + 1}{each}) …"

    def after_answer(self, seconds: float) -> None:
        self.answers += 1
        self._seconds.append(seconds)

    def run(self) -> None:
        try:
            client = self.make_client()
            watched: Any = _Watched(client, self)
            frames = 4 if isinstance(client, OpenAICompatibleClient) else 0  # the CLI's --frames default
            for i, clip in enumerate(self.clips, 1):
                self._where = f"clip {i} of {len(self.clips)} ({Path(clip).name})"
                self.message = f"Propose: {self._where}: analysing …"
                report = propose_salient(
                    self.db,
                    clip,
                    self.exercise,
                    watched,
                    window_s=self.window_s,
                    n_frames=frames,
                    export_dir=self.export,
                )
                self.created += report.created
                self.existing += len(report.existing)
            if self.roles or not self.clips:
                self._where = f"{self.exercise} static/dynamic roles"
                report = propose_roles(self.db, self.exercise, watched, export_dir=self.export)
                self.created += report.created
                self.existing += len(report.existing)
            already = f", {self.existing} already stored (same question, same model)" if self.existing else ""
            self.message = (
                f"Propose: {len(self.created)} new proposal(s){already}; model {client.model_name}; "
                f"exported to {self.export}"
            )
        except ProposeCancelled:
            self.message = (
                f"Propose cancelled after {self.answers} model answer(s): what was answered is stored "
                f"({len(self.created)} proposal(s) counted before {self._where})."
            )
        except Exception as exc:  # one line on the page, never a traceback
            text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            self.message = f"Propose failed: {text}"
        finally:
            self.finished = True

    def start(self) -> None:
        threading.Thread(target=self.run, name="biocoach-review-propose", daemon=True).start()


def proposal_rows(db: Any) -> pd.DataFrame:
    """The stored proposals, one row each: the model that answered (proposals of different models are stored
    apart), the model's own joints and the catalogue's fill-ins in columns of their own (agreement counts the
    model's only), and :func:`describe`'s line."""
    with db.session() as s:
        proposals = ReviewRepository(s).proposals()
    rows = []
    for p in proposals:
        if p.kind == "salient":
            model, filled = ", ".join(p.model_joints) or "(none)", ", ".join(p.catalogue_joints) or "(none)"
        else:
            own = p.model_roles
            model = ", ".join(f"{j} {r}" for j, r in own.items()) or "(none)"
            filled = f"{len(p.roles) - len(own)} roles"
        when = "" if p.start_s is None or p.end_s is None else f"{p.start_s:.2f}-{p.end_s:.2f}"
        rows.append(
            dict(
                zip(
                    PROPOSAL_COLUMNS,
                    (
                        p.id,
                        p.kind,
                        p.exercise,
                        Path(p.clip_path).name if p.clip_path else "",
                        p.segment,
                        when,
                        p.status,
                        p.parse_status,
                        p.model,
                        model,
                        filled,
                        describe(p),
                    ),
                    strict=True,
                )
            )
        )
    return pd.DataFrame(rows, columns=list(PROPOSAL_COLUMNS))


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def review_tables(db: Any) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(summary markdown, per-exercise table, per-joint table, labels table) from the store."""
    report = agreement(db)
    with db.session() as s:
        repo = ReviewRepository(s)
        counts = repo.counts()
        proposals = {p.id: p for p in repo.proposals()}
        labels = repo.current_labels()
    ks, kr, o = report.kappa_salient, report.kappa_roles, report.overall
    proposed = sum(v for k, v in counts.items() if k.endswith("proposals proposed"))
    reviewed = sum(v for k, v in counts.items() if k.endswith("proposals reviewed"))
    summary = "\n".join(
        "- " + line
        for line in [
            f"**Proposals:** {proposed} waiting for review, {reviewed} reviewed · "
            f"**labels:** {report.n_labels} current "
            f"({', '.join(f'{k} {v}' for k, v in sorted(report.status_counts.items())) or 'none'}), "
            f"{counts.get('label versions', 0)} versions in all",
            f"**Proposal vs expert, on the model's own joints (salient):** precision {_fmt(o.precision)}, "
            f"recall {_fmt(o.recall)} (tp {o.tp}, fp {o.fp}, fn {o.fn})",
            f"**Catalogue fill-ins (not the model's, not counted above):** {report.catalogue_kept} of "
            f"{report.catalogue_filled} kept by the experts",
            f"**Cohen's kappa, salient joints:** {_fmt(ks.value)} ({ks.n_tasks} tasks labelled by two experts, "
            f"{ks.n_decisions} decisions)",
            f"**Cohen's kappa, static/dynamic:** {_fmt(kr.value)} ({kr.n_tasks} tasks, {kr.n_decisions} decisions)",
            *[f"**Static/dynamic roles kept, {ex}:** {kept:.0%}" for ex, kept in sorted(report.roles_kept.items())],
        ]
    )
    per_exercise = pd.DataFrame(
        [
            {
                "exercise": ex,
                "precision": _fmt(pr.precision),
                "recall": _fmt(pr.recall),
                "tp": pr.tp,
                "fp": pr.fp,
                "fn": pr.fn,
            }
            for ex, pr in sorted(report.per_exercise.items())
        ]
    )
    per_joint = pd.DataFrame(
        [
            {
                "joint": j,
                "precision": _fmt(pr.precision),
                "recall": _fmt(pr.recall),
                "tp": pr.tp,
                "fp": pr.fp,
                "fn": pr.fn,
            }
            for j, pr in report.per_joint.items()
        ]
    )
    rows = []
    for lab in labels:
        p = proposals[lab.proposal_id]
        what = (
            ", ".join(lab.content)
            if p.kind == "salient"
            else ", ".join(j for j, r in lab.content.items() if r == "dynamic") + " dynamic"
        )
        rows.append(
            {
                "proposal": lab.proposal_id,
                "kind": p.kind,
                "exercise": p.exercise,
                "segment": p.segment,
                "reviewer": lab.reviewer,
                "status": lab.status,
                "version": lab.version,
                "reviewed_at": str(lab.reviewed_at)[:19],
                "labels": what,
            }
        )
    return summary, per_exercise, per_joint, pd.DataFrame(rows)


class ReviewPage(pn.viewable.Viewer):
    """Propose, push and pull; the proposals, agreement figures and expert labels of the review loop."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]
    make_client = param.Callable(default=proposal_client, doc="the model proposals ask (tests: a scripted one)")
    export = param.Parameter(default=None, doc="where proposal JSON goes (None: export_dir())")

    def __init__(self, **params: Any):
        super().__init__(**params)
        db = self.state.database()
        choices = editing.overlay_clip_choices(self.state)
        opened = [self.state.clip_path] if self.state.clip_path in choices else []
        self.clip_pick = pn.widgets.MultiChoice(
            name="Clips to propose salient joints for", options=choices, value=opened, sizing_mode="stretch_width"
        )
        keys = editing.exercise_keys(db)
        self.exercise_pick = pn.widgets.Select(
            name="Exercise",
            options=keys,
            width=200,
            value=self.state.exercise if self.state.exercise in keys else (keys[0] if keys else None),
        )
        self.roles_box = pn.widgets.Checkbox(name="also propose static/dynamic roles for the exercise")
        self.propose_button = pn.widgets.Button(name="Propose", button_type="primary")
        self.cancel_button = pn.widgets.Button(name="Cancel proposing", disabled=True)
        self.propose_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.proposals = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(PROPOSAL_COLUMNS)),
            disabled=True,
            show_index=False,
            height=260,
            sizing_mode="stretch_width",
        )
        self._propose: ProposeJob | None = None
        self.propose_button.on_click(lambda e: (self.start_propose(), None)[1])
        self.cancel_button.on_click(lambda e: self.cancel_propose())
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.per_exercise = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=110, sizing_mode="stretch_width"
        )
        self.per_joint = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=300, sizing_mode="stretch_width"
        )
        self.labels = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=300, sizing_mode="stretch_width"
        )
        self.refresh_button = pn.widgets.Button(name="Refresh review figures")
        self.refresh_button.on_click(lambda e: self.refresh())
        self.push_button = pn.widgets.Button(name="Push to Label Studio", button_type="primary")
        self.pull_button = pn.widgets.Button(name="Pull from Label Studio")
        self.sync_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._sync: SyncJob | None = None
        self._poll: Any = None
        self.push_button.on_click(lambda e: self._start("push"))
        self.pull_button.on_click(lambda e: self._start("pull"))
        self.refresh()

    def _running(self, job: SyncJob | ProposeJob | None) -> bool:
        return job is not None and not job.finished

    def _watch(self) -> None:
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self._update, period=POLL_MS)

    def _start(self, action: str) -> None:
        if self._running(self._sync):
            return
        self._sync = SyncJob(action, self.state.database())
        self.sync_text.object = self._sync.message
        self.push_button.disabled = self.pull_button.disabled = True
        self._sync.start()
        self._watch()

    def start_propose(self) -> ProposeJob | None:
        """Start proposing for the chosen clips (each checked against the data folders) and exercise."""
        if self._running(self._propose):
            return None
        clips = list(self.clip_pick.value or [])
        refused = [c for c in clips if not self.state.allowed(c) or not Path(c).is_file()]
        if refused:
            self.propose_text.object = (
                f"Propose refused: {', '.join(Path(c).name for c in refused[:5])} is "
                "missing or outside the data folders."
            )
            return None
        if not self.exercise_pick.value:
            self.propose_text.object = "Propose: choose an exercise first."
            return None
        if not clips and not self.roles_box.value:
            self.propose_text.object = "Propose: choose clips, or tick the static/dynamic roles box, first."
            return None
        self._propose = ProposeJob(
            self.state.database(),
            clips,
            str(self.exercise_pick.value),
            bool(self.roles_box.value),
            make_client=self.make_client,
            export=self.export,
        )
        self.propose_text.object = self._propose.message
        self.propose_button.disabled, self.cancel_button.disabled = True, False
        self._propose.start()
        self._watch()
        return self._propose

    def cancel_propose(self) -> None:
        if self._running(self._propose):
            assert self._propose is not None
            self._propose.cancel()
            self.propose_text.object = self._propose.message

    def _update(self) -> None:
        sync, propose = self._sync, self._propose
        if propose is not None:
            self.propose_text.object = propose.message
        done = False
        if sync is not None and sync.finished and self.push_button.disabled:
            self.sync_text.object = sync.message
            self.push_button.disabled = self.pull_button.disabled = False
            done = True
        if propose is not None and propose.finished and self.propose_button.disabled:
            self.propose_button.disabled, self.cancel_button.disabled = False, True
            done = True
        if done:
            self.refresh()
        if not self._running(sync) and not self._running(propose) and self._poll is not None:
            self._poll.stop()
            self._poll = None

    def refresh(self) -> None:
        try:
            db = self.state.database()
            summary, per_exercise, per_joint, labels = review_tables(db)
            self.proposals.value = proposal_rows(db)
        except Exception as exc:  # one line on the page, never a traceback
            self.summary.object = f"Review figures unavailable: {' '.join(str(exc).split())[:300]}"
            return
        if "**Proposals:** 0 waiting for review, 0 reviewed" in summary and labels.empty:
            summary = f"{EMPTY}\n\n{summary}"
        self.summary.object = summary
        self.per_exercise.value, self.per_joint.value, self.labels.value = per_exercise, per_joint, labels

    def __panel__(self) -> Any:
        intro = pn.pane.Markdown(
            "### Expert review (Label Studio)\nPropose asks the language model (as "
            "`biocoach review propose` does); Push and Pull move proposals to the experts in "
            "Label Studio (`biocoach review serve`) and their decisions back here."
        )
        parts = [
            intro,
            self.summary,
            pn.pane.Markdown("#### Propose"),
            self.clip_pick,
            pn.Row(self.exercise_pick, self.roles_box),
            pn.Row(self.propose_button, self.cancel_button),
            self.propose_text,
            pn.pane.Markdown("#### Proposals (the model's own joints; catalogue fill-ins apart)"),
            self.proposals,
            pn.Row(self.push_button, self.pull_button, self.refresh_button),
            self.sync_text,
            pn.pane.Markdown("#### Proposal vs expert per exercise (the model's own joints)"),
            self.per_exercise,
            pn.pane.Markdown("#### Proposal vs expert per joint (the model's own joints)"),
            self.per_joint,
            pn.pane.Markdown("#### Current labels"),
            self.labels,
        ]
        return pn.Column(*parts, sizing_mode="stretch_width")
