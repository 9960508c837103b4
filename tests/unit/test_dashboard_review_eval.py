"""The Review page's Propose and the Evaluations page's Evaluate without a browser: a scripted model's proposals
reach the store and the page's table keeps the model's own joints apart from the catalogue's fill-ins; Cancel
stops before the next model answer; an evaluation of a run's feedback (or of a predictions file) is stored as
`biocoach eval` stores it and shown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from workbench.dashboard.pages import evaluations, review
from workbench.dashboard.state import AppState
from workbench.exercises import load_catalogue
from workbench.llm.client import Completion, OpenAICompatibleClient
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import synthesize
from workbench.store.evaluations import EvaluationRepository
from workbench.store.reviews import ReviewRepository

MODEL_JOINTS = ("femur_r", "tibia_r", "femur_l", "tibia_l", "thorax")  # "Knees, hips and thorax." in SKEL order


class Scripted:
    """Fixed replies (as tests/integration/test_label_studio.py's ScriptedLLM); ``on_answer`` runs after each."""

    model_name = "scripted-page-model"

    def __init__(self, on_answer: Any = None):
        self.asked = 0
        self.on_answer = on_answer

    def complete(self, messages: list[Any], **_: Any) -> Completion:
        self.asked += 1
        asks_roles = "static (should stay stable)" in str(messages[-1]["content"])
        text = "Dynamic: hips, knees, ankles\nStatic: pelvis, lumbar spine" if asks_roles else "Knees, hips and thorax."
        if self.on_answer is not None:
            self.on_answer()
        return Completion(text=text, model=self.model_name, prompt=list(messages))


@pytest.fixture
def state(tmp_path: Path) -> AppState:
    return AppState(db_path=str(tmp_path / "store.duckdb"), data_dirs=[str(tmp_path / "data")])


def _clip(folder: Path, name: str = "squat_page.npz", reps: int = 3) -> str:
    track, _ = synthesize(load_catalogue().get("squat"), reps, fps=30.0, seed=1)
    folder.mkdir(parents=True, exist_ok=True)
    return str(save_npz(track, folder / name))


def _finish(job: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not job.finished:
        assert time.monotonic() < deadline, job.message
        time.sleep(0.05)


def test_propose_with_a_scripted_model_fills_the_store_and_the_table(
    state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _clip(tmp_path / "data")
    export = tmp_path / "proposals"
    llm = Scripted()
    page = review.ReviewPage(state=state, make_client=lambda: llm, export=export)
    monkeypatch.setattr(page, "_watch", lambda: None)  # no server loop here: _update is called by hand
    assert page.summary.object.startswith("No proposals yet: propose salient joints for clips first")
    assert clip in page.clip_pick.options  # a clip file under the data folders is offered
    page.clip_pick.value, page.exercise_pick.value, page.roles_box.value = [clip], "squat", True
    job = page.start_propose()
    assert job is not None and page.propose_button.disabled and not page.cancel_button.disabled
    _finish(job)
    page._update()
    assert job.message.startswith("Propose: 4 new proposal(s); model scripted-page-model"), job.message
    assert not page.propose_button.disabled and page.cancel_button.disabled
    with state.database().session() as s:
        stored = ReviewRepository(s).proposals()
    salient = [p for p in stored if p.kind == "salient"]
    assert len(salient) == 3 and len([p for p in stored if p.kind == "roles"]) == 1
    assert all(p.model_joints == MODEL_JOINTS and "pelvis" in p.catalogue_joints for p in salient)
    assert sorted(f.name for f in export.iterdir()) == sorted(f"{p.id}.json" for p in stored)
    table = page.proposals.value
    rows = table[table["kind"] == "salient"]
    assert list(rows["model's joints"]) == [", ".join(MODEL_JOINTS)] * 3
    assert all("pelvis" in c and "thorax" not in c for c in rows["catalogue fill-ins"])
    assert all(line.startswith("parsed: model femur_r") for line in rows["as the CLI prints it"])
    assert set(rows["clip"]) == {"squat_page.npz"} and set(rows["status"]) == {"proposed"}
    assert "**Proposals:** 4 waiting for review" in page.summary.object
    assert "Proposal vs expert, on the model's own joints" in page.summary.object
    # the same question to the same model again: nothing new
    again = page.start_propose()
    assert again is not None
    _finish(again)
    assert again.message.startswith("Propose: 0 new proposal(s), 4 already stored"), again.message


def test_cancel_stops_before_the_next_answer_and_keeps_what_was_answered(state: AppState, tmp_path: Path) -> None:
    clip = _clip(tmp_path / "data")
    jobs: list[review.ProposeJob] = []
    llm = Scripted(on_answer=lambda: jobs[0].cancel())  # Cancel pressed while the first answer is computed
    job = review.ProposeJob(
        state.database(), [clip], "squat", True, make_client=lambda: llm, export=tmp_path / "proposals"
    )
    jobs.append(job)
    job.run()
    assert llm.asked == 1 and job.answers == 1
    assert job.message.startswith("Propose cancelled after 1 model answer(s)"), job.message
    with state.database().session() as s:
        assert len(ReviewRepository(s).proposals()) == 1  # the answered segment is stored


def test_propose_refuses_clips_outside_the_data_folders(state: AppState, tmp_path: Path) -> None:
    outside = _clip(tmp_path / "elsewhere", reps=1)
    page = review.ReviewPage(state=state, make_client=Scripted, export=tmp_path / "proposals")
    page.clip_pick.options = [*page.clip_pick.options, outside]
    page.clip_pick.value = [outside]
    assert page.start_propose() is None
    assert page.propose_text.object.startswith("Propose refused: squat_page.npz is missing or outside")


def test_a_served_model_is_still_one_under_the_watch() -> None:
    """propose_salient sends frames only to an OpenAI-compatible client: the watched client must still be one."""
    job = review.ProposeJob(None, [], "squat", True)
    watched = review._Watched(OpenAICompatibleClient("http://127.0.0.1:9/v1", "m"), job)
    assert isinstance(watched, OpenAICompatibleClient) and watched.model_name == "m @ http://127.0.0.1:9/v1"


def test_evaluate_a_runs_feedback_against_its_clip_sidecar_stores_and_shows(
    state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = _clip(tmp_path / "data", "squat_eval.npz", reps=2)
    state.open_clip(clip, "squat")  # a recorded run with the rule coach's feedback
    run_id = int(state.result.analysis.provenance["run_id"])
    with state.database().store() as store:
        said = store.runs.feedback(run_id)
    assert said
    truth = [{"t_s": said[0].t_s, "text": said[0].text}, {"t_s": 900.0, "text": "never said"}]
    Path(clip + ".feedback.json").write_text(json.dumps(truth))
    page = evaluations.EvaluationsPage(state=state)
    monkeypatch.setattr(evaluations.pn.state, "add_periodic_callback", lambda *a, **k: None)
    assert page.message.object.startswith("No evaluations yet: pick a run")
    assert run_id in page.run_pick.options.values()
    page.source.value, page.run_pick.value = evaluations.RUN, run_id
    job = page.start_evaluation()
    assert job is not None
    _finish(job)
    page._update()
    assert job.message.startswith(f"Stored as evaluation {job.evaluation_id}:"), job.message
    assert "1 of 2 ground-truth lines matched" in job.message
    with state.database().session() as s:
        stored = EvaluationRepository(s).get(int(job.evaluation_id or 0))
    assert stored.summary.name == f"run {run_id} squat_eval.npz" and stored.summary.n_gt == 2
    assert stored.summary.n_matched == 1 and stored.clips[0]["meteor"] is not None  # METEOR on the matched pair
    assert page.message.object == "1 stored evaluation(s)."
    assert f"Evaluation {job.evaluation_id}: run {run_id}" in page.detail.object  # opened on the page


def test_evaluate_a_predictions_file_against_a_ground_truth_file(state: AppState, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "pred.json").write_text(
        json.dumps([{"mini_episode_id": "c1", "pred_feedbacks": ["Knees out."], "pred_feedback_timestamps": [1.0]}])
    )
    (data / "gt.json").write_text(
        json.dumps([{"mini_episode_id": "c1", "feedbacks": ["Push your knees out."], "feedback_timestamps": [1.5]}])
    )
    inputs = evaluations.file_inputs(state, str(data / "pred.json"), str(data / "gt.json"))
    eid, result = evaluations.evaluate_and_store(state.database(), inputs, name="file test")
    assert result.summary["n_matched"] == 1 and result.summary["bertscore"] is None
    with state.database().session() as s:
        assert EvaluationRepository(s).get(eid).summary.name == "file test"
    outside = tmp_path / "gt_outside.json"
    outside.write_text("[]")
    job = evaluations.EvalJob(state, evaluations.FILE, None, str(data / "pred.json"), str(outside), "test", "", False)
    job.run()
    assert job.message.startswith("Evaluation failed: WorkbenchError: ground truth") and "outside" in job.message
