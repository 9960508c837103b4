"""LLM-proposed labels for expert review (paper supplement §8–9).

Two kinds of proposal:

* **salient** — for each segment of a clip (its reps, or fixed windows when none were found), which of the
  24 SKEL joints need attention given the exercise and how well it was done (the motion context C_motion and
  the rep's violations; frames too when a vision–language endpoint is configured);
* **roles** — for an exercise, whether each joint is static (should stay stable) or dynamic.

The default model is the packaged SmolLM2-135M: tiny, so its replies are often poor. Parsing is therefore
lenient (SKEL names, "right knee", "knees", "spine", …) and honest: the raw prompt and reply are kept,
a reply with nothing usable is recorded as 'unparsable' with the reason (``parse_reason``), and every joint
says where it came from (``llm``, or ``catalogue`` when the exercise catalogue filled a gap). Only the
model's own joints are its proposal (``ProposalRow.model_joints``); the catalogue's fill-ins are kept apart
(``ProposalRow.catalogue_joints``) and agreement is measured on the model's own (``workbench.review.agreement``).

A reply stuck in a repetition loop — the same one to four words said four or more times in a row, as in
"Knee-chest-upper-lower-pelvis-lumbar-spine-pelvis-pelvis-pelvis-…" — is unparsable as a whole: a model in
a loop is not answering, and the joint words it happens to string together are not its proposal.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from workbench.io.video import iter_frames
from workbench.llm.client import OpenAICompatibleClient
from workbench.pipeline import analyze_clip, resolve
from workbench.pose.backends import is_video
from workbench.skeleton import JOINT_NAMES
from workbench.store.clips_repo import sha256_file
from workbench.store.reviews import ParseStatus, ProposalRow, ReviewRepository

if TYPE_CHECKING:
    from workbench.exercises.catalogue import Exercise
    from workbench.llm.client import ChatMessage, LLMClient
    from workbench.motion.results import Analysis
    from workbench.store.database import Database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXPORT_DIR = PROJECT_ROOT / "annotations" / "proposals"
DEFAULT_WINDOW_S = 4.0
SALIENT_TOKENS = 64  # a list of joints; small models repeat themselves after that
ROLES_TOKENS = 128
Role = Literal["static", "dynamic"]

# Words people (and small models) use for joints, without a side: each maps to the SKEL joints it names.
# Bilateral words name both sides unless "left"/"right" comes just before them.
_SIDED = {
    "hip": "femur",
    "hips": "femur",
    "femur": "femur",
    "thigh": "femur",
    "thighs": "femur",
    "knee": "tibia",
    "knees": "tibia",
    "tibia": "tibia",
    "ankle": "talus",
    "ankles": "talus",
    "talus": "talus",
    "subtalar": "calcn",
    "heel": "calcn",
    "heels": "calcn",
    "calcn": "calcn",
    "foot": "calcn",
    "feet": "calcn",
    "toe": "toes",
    "toes": "toes",
    "scapula": "scapula",
    "scapulae": "scapula",
    "scapulas": "scapula",
    "blade": "scapula",
    "blades": "scapula",
    "shoulder": "humerus",
    "shoulders": "humerus",
    "humerus": "humerus",
    "arm": "humerus",
    "arms": "humerus",
    "elbow": "ulna",
    "elbows": "ulna",
    "ulna": "ulna",
    "forearm": "radius",
    "forearms": "radius",
    "radius": "radius",
    "wrist": "hand",
    "wrists": "hand",
    "hand": "hand",
    "hands": "hand",
}
_CENTRAL = {
    "pelvis": "pelvis",
    "lumbar": "lumbar_body",
    "spine": "lumbar_body",
    "thorax": "thorax",
    "chest": "thorax",
    "torso": "thorax",
    "trunk": "thorax",
    "head": "head",
    "neck": "head",
}
_TOKEN = re.compile(r"[a-z_]+")
_LOOP_PERIOD = 4  # longest word cycle looked for
_LOOP_REPEATS = 4  # a cycle said this many times in a row is a repetition loop
_SIDE_WORDS = {"right": "r", "r": "r", "left": "l", "l": "l"}


@dataclass(frozen=True)
class Segment:
    label: str  # "rep 2", "window 1"
    start_s: float
    end_s: float
    violations: tuple[str, ...]  # the messages of the segment's violations


# ---------------------------------------------------------------------------------------------- parsing


def parse_joints(text: str) -> tuple[str, ...]:
    """The SKEL joints a free-text reply names, in SKEL order. Exact names (``tibia_r``) and coach words
    ("right knee", "knees", "lumbar spine") both count; anything else is ignored."""
    found: set[str] = set()
    tokens = _TOKEN.findall(text.lower())
    for i, tok in enumerate(tokens):
        if tok in JOINT_NAMES:
            found.add(tok)
            continue
        if tok == "lumbar_spine" or tok == "lumbar_body":
            found.add("lumbar_body")
            continue
        base = _SIDED.get(tok)
        if base is not None:
            prev = tokens[i - 1] if i > 0 else ""
            if tok in ("blade", "blades") and prev not in ("shoulder", "right", "left"):
                continue
            # the side words just before ("left knee", "left and right knees", "right shoulder blade")
            back = [t for t in tokens[max(0, i - 4) : i] if t != "shoulder" or tok not in ("blade", "blades")]
            said: set[str] = set()
            for t in reversed(back):
                if t in _SIDE_WORDS:
                    said.add(_SIDE_WORDS[t])
                elif t not in ("and", "or", "both"):
                    break
            sides = sorted(said) or ["r", "l"]
            found.update(f"{base}_{s}" for s in sides)
            continue
        central = _CENTRAL.get(tok)
        if central:
            found.add(central)
    # "shoulder blade": the blade, not the shoulder (the word "shoulder" just before it added humerus)
    if re.search(r"shoulder[ _-]?blades?", text.lower()) and not re.search(r"shoulders?(?![ _-]?blade)", text.lower()):
        found -= {"humerus_r", "humerus_l"}
    return tuple(j for j in JOINT_NAMES if j in found)


_ROLE_WORDS: dict[str, Role] = {
    "static": "static",
    "stable": "static",
    "stability": "static",
    "stationary": "static",
    "fixed": "static",
    "dynamic": "dynamic",
    "moving": "dynamic",
    "moves": "dynamic",
    "motion": "dynamic",
    "mobile": "dynamic",
}


def parse_roles(text: str) -> dict[str, Role]:
    """{joint: role} from a reply. A line or sentence that starts with a role ("Dynamic: hips, knees") gives
    it to the joints it names and to those on following lines without a role of their own (a bulleted
    list under a heading); one that names its role after its joints ("pelvis - static") gives it to those
    joints only. A joint given both roles keeps its first."""
    roles: dict[str, Role] = {}
    heading: Role | None = None
    for raw in re.split(r"[\n;.]+", text):
        line = raw.strip().lstrip("-*•# ").lower()
        if not line:
            continue
        words = [w for w in _TOKEN.findall(line) if w in _ROLE_WORDS]
        if words:
            role: Role | None = _ROLE_WORDS[words[0]]
            heading = role if line.startswith(words[0]) else None
        else:
            role = heading
        if role is not None:
            for j in parse_joints(line):
                roles.setdefault(j, role)
    return roles


def repetition_loop(text: str) -> str | None:
    """The first repetition loop of a reply, described (``'pelvis' 37 times in a row``); None when there is
    none. A loop: a cycle of one to four words said at least four times in a row, punctuation aside."""
    words = _TOKEN.findall(text.lower())
    for i in range(len(words)):
        for period in range(1, _LOOP_PERIOD + 1):
            unit = words[i : i + period]
            if len(unit) < period:
                break
            n = 1
            while words[i + n * period : i + (n + 1) * period] == unit:
                n += 1
            if n >= _LOOP_REPEATS:
                return f"{' '.join(unit)!r} {n} times in a row"
    return None


def read_salient_reply(text: str) -> tuple[tuple[str, ...], ParseStatus, str]:
    """(the model's own joints, parse status, reason) of a salient-joints reply. The reason is '' when the
    reply parsed; an empty reply, a repetition loop or a reply naming no joint is 'unparsable' with no joints
    of the model's."""
    reason = _unusable(text)
    if reason:
        return (), "unparsable", reason
    joints = parse_joints(text)
    if not joints:
        return (), "unparsable", "the reply names no joint"
    return joints, "parsed", ""


def read_roles_reply(text: str) -> tuple[dict[str, Role], ParseStatus, str]:
    """({joint: role} the model gave, parse status, reason) of a static/dynamic reply: 'parsed' when all 24
    joints got a role, 'partial' when some did, 'unparsable' (no roles of the model's) when none did, the reply
    is empty or it is stuck in a repetition loop."""
    reason = _unusable(text)
    if reason:
        return {}, "unparsable", reason
    roles = parse_roles(text)
    if not roles:
        return {}, "unparsable", "the reply gives no joint a static or dynamic role"
    if len(roles) < len(JOINT_NAMES):
        return roles, "partial", f"the model gave {len(roles)} of {len(JOINT_NAMES)} joints a role"
    return roles, "parsed", ""


def parse_reason(row: ProposalRow) -> str:
    """Why a stored proposal is not fully the model's ('' when it parsed), re-read from its stored reply with
    the rules above."""
    if row.kind == "salient":
        return read_salient_reply(row.reply)[2]
    return read_roles_reply(row.reply)[2]


def describe(row: ProposalRow) -> str:
    """One line on what the model proposed and what the catalogue filled in, as the CLI prints it:
    ``parsed: model tibia_r, tibia_l; catalogue pelvis, …`` or ``unparsable (the reply is stuck in a
    repetition loop …): nothing from the model; catalogue …``."""
    reason = parse_reason(row)
    head = f"{row.parse_status} ({reason})" if reason else row.parse_status
    if row.kind == "salient":
        model, catalogue = row.model_joints, row.catalogue_joints
        said = f"model {', '.join(model)}" if model else "nothing from the model"
        return f"{head}: {said}; catalogue {', '.join(catalogue) or 'none'}"
    own = row.model_roles
    dynamic = [j for j, r in row.roles.items() if r == "dynamic"]
    said = f"model gave {len(own)} of {len(JOINT_NAMES)} roles" if own else "no roles from the model"
    return f"{head}: {said}, the catalogue the rest; dynamic {', '.join(dynamic) or 'none'}"


def _unusable(text: str) -> str:
    if not text.strip():
        return "the reply is empty"
    loop = repetition_loop(text)
    if loop:
        return f"the reply is stuck in a repetition loop ({loop})"
    return ""


def salient_content(llm_joints: Sequence[str], ex: Exercise) -> tuple[list[dict[str, str]], ParseStatus]:
    """The proposal's joints with their sources: the model's, then the catalogue's salient joints it missed.
    'unparsable' when the model named none."""
    content = [{"joint": j, "source": "llm"} for j in llm_joints]
    content += [{"joint": j, "source": "catalogue"} for j in ex.salient_joints if j not in llm_joints]
    order = {j: i for i, j in enumerate(JOINT_NAMES)}
    content.sort(key=lambda item: order[item["joint"]])
    return content, ("parsed" if llm_joints else "unparsable")


def roles_content(llm_roles: dict[str, Role], ex: Exercise) -> tuple[dict[str, dict[str, str]], ParseStatus]:
    """A role for all 24 joints: the model's where it gave one, else the catalogue's (joints the catalogue
    lists in neither class are static: paper §9, "remaining joints")."""
    out: dict[str, dict[str, str]] = {}
    for j in JOINT_NAMES:
        if j in llm_roles:
            out[j] = {"role": llm_roles[j], "source": "llm"}
        else:
            out[j] = {"role": "dynamic" if j in ex.dynamic_joints else "static", "source": "catalogue"}
    n = len(llm_roles)
    status: ParseStatus = "parsed" if n == len(JOINT_NAMES) else ("partial" if n else "unparsable")
    return out, status


# ---------------------------------------------------------------------------------------------- prompts

_SYSTEM = (
    "You are a biomechanics expert and strength coach. Answer briefly. Name only the joints that matter, "
    "in plain words (for example: knees, hips, lumbar spine, thorax, shoulders, elbows), and say left or "
    "right when only one side matters."
)


def salient_messages(
    ex: Exercise, seg: Segment, context_motion: str, frames: Sequence[tuple[float, bytes]] = ()
) -> list[dict[str, Any]]:
    """Chat messages asking which joints need attention in one segment; frames (t_s, JPEG bytes) become
    image content parts in the OpenAI chat format."""
    issues = "; ".join(seg.violations) if seg.violations else "none detected"
    text = (
        f"Exercise: {ex.name}. Segment: {seg.label}, {seg.start_s:.2f}-{seg.end_s:.2f} s.\n"
        f"Motion analysis:\n{context_motion.strip()}\nForm issues in this segment: {issues}.\n"
        "Which joints need attention in this segment? List the joints, comma-separated."
    )
    user: dict[str, Any] = {"role": "user", "content": text}
    if frames:
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for t_s, jpeg in frames:
            parts.append({"type": "text", "text": f"Frame at {t_s:.2f} s:"})
            url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        user = {"role": "user", "content": parts}
    return [{"role": "system", "content": _SYSTEM}, user]


def roles_messages(ex: Exercise) -> list[dict[str, Any]]:
    text = (
        f"Exercise: {ex.name}.\nFor each joint, say whether it is dynamic (moves through a range during the "
        "exercise) or static (should stay stable). Answer in two lines:\nDynamic: <joints>\nStatic: <joints>"
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": text}]


def storable_prompt(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt as stored: image payloads replaced by their size and sha256 (the text stays verbatim)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [_image_digest(p) if p.get("type") == "image_url" else p for p in content]
        out.append({"role": m["role"], "content": content})
    return out


def _image_digest(part: dict[str, Any]) -> dict[str, Any]:
    url = str(part["image_url"]["url"])
    payload = url.split(",", 1)[-1].encode("ascii")
    raw = base64.b64decode(payload)
    digest = hashlib.sha256(raw).hexdigest()
    return {"type": "image_url", "image_url": {"url": f"<jpeg {len(raw)} bytes sha256:{digest}>"}}


# ---------------------------------------------------------------------------------------------- segments


def segments_of(analysis: Analysis, window_s: float = DEFAULT_WINDOW_S) -> list[Segment]:
    """The clip's reps; fixed windows of ``window_s`` when the analysis found none."""
    if analysis.reps:
        return [
            Segment(f"rep {r.index + 1}", float(r.start_s), float(r.end_s), tuple(v.message for v in r.violations))
            for r in analysis.reps
        ]
    out, start, k = [], 0.0, 1
    while start < analysis.duration_s - 1e-9:
        end = min(start + window_s, analysis.duration_s)
        out.append(Segment(f"window {k}", round(start, 3), round(end, 3), ()))
        start, k = end, k + 1
    return out


def video_frames(video: Path, start_s: float, end_s: float, n: int, max_side: int = 384) -> list[tuple[float, bytes]]:
    """``n`` JPEG frames evenly spread over a segment of a video."""
    from PIL import Image

    if n <= 0:
        return []
    times = [start_s + (end_s - start_s) * (k + 0.5) / n for k in range(n)]
    out: list[tuple[float, bytes]] = []
    for frame in iter_frames(video, fps=30.0, max_side=max_side):
        if len(out) < n and frame.t_s >= times[len(out)]:
            buf = io.BytesIO()
            Image.fromarray(frame.rgb.copy()).save(buf, format="JPEG", quality=80)
            out.append((frame.t_s, buf.getvalue()))
        if len(out) == n or frame.t_s > end_s:
            break
    return out


# ---------------------------------------------------------------------------------------------- proposing


def proposal_id(kind: str, *parts: object) -> str:
    digest = hashlib.sha256(json.dumps([kind, *parts], default=str).encode()).hexdigest()[:16]
    return f"{'sal' if kind == 'salient' else 'roles'}-{digest}"


@dataclass(frozen=True)
class ProposeReport:
    created: list[ProposalRow]
    existing: list[str]  # ids of proposals already stored (same question to the same model)


def propose_salient(
    db: Database,
    clip: str | Path,
    exercise: str,
    client: LLMClient,
    *,
    video: str | Path | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    n_frames: int = 0,
    export_dir: Path | None = DEFAULT_EXPORT_DIR,
) -> ProposeReport:
    """Analyse a clip, ask the model about each segment, store the proposals ('proposed') and export them.

    ``video``: the video an expert watches (default: the clip itself when it is a video). Frames are sent
    only when ``n_frames`` > 0, there is a video and the client is a served (OpenAI-compatible) model: the
    local text-only model gets the text alone.
    """
    clip = Path(clip)
    result = analyze_clip(clip, exercise, db=db)
    analysis = result.analysis
    ex = _exercise(db, exercise)
    clip_hash = sha256_file(clip)
    watch = Path(video) if video is not None else (clip if is_video(clip) else None)
    n_frames = n_frames if _takes_images(client) else 0
    created: list[ProposalRow] = []
    existing: list[str] = []
    for seg in segments_of(analysis, window_s):
        pid = proposal_id("salient", clip_hash, ex.key, seg.start_s, seg.end_s, client.model_name, n_frames)
        if _exists(db, pid):
            existing.append(pid)
            continue
        frames = video_frames(watch, seg.start_s, seg.end_s, n_frames) if (watch and n_frames) else []
        messages = salient_messages(ex, seg, analysis.context_motion, frames)
        completion = client.complete(_as_chat(messages), max_new_tokens=SALIENT_TOKENS)
        joints, status, _ = read_salient_reply(completion.text)
        content, _ = salient_content(joints, ex)
        row = ProposalRow(
            id=pid,
            kind="salient",
            exercise=ex.key,
            content=content,
            model=completion.model,
            prompt=storable_prompt(messages),
            reply=completion.text,
            parse_status=status,
            clip_hash=clip_hash,
            clip_path=str(clip.resolve()),
            video_path=None if watch is None else str(watch.resolve()),
            start_s=seg.start_s,
            end_s=seg.end_s,
            segment=seg.label,
        )
        _store(db, row, export_dir)
        created.append(row)
    return ProposeReport(created, existing)


def propose_roles(
    db: Database, exercise: str, client: LLMClient, *, export_dir: Path | None = DEFAULT_EXPORT_DIR
) -> ProposeReport:
    """Ask the model which joints of an exercise are static and which dynamic; store and export."""
    ex = _exercise(db, exercise)
    pid = proposal_id("roles", ex.key, client.model_name)
    if _exists(db, pid):
        return ProposeReport([], [pid])
    messages = roles_messages(ex)
    completion = client.complete(_as_chat(messages), max_new_tokens=ROLES_TOKENS)
    roles, status, _ = read_roles_reply(completion.text)
    content, _ = roles_content(roles, ex)
    row = ProposalRow(
        id=pid,
        kind="roles",
        exercise=ex.key,
        content=content,
        model=completion.model,
        prompt=storable_prompt(messages),
        reply=completion.text,
        parse_status=status,
    )
    _store(db, row, export_dir)
    return ProposeReport([row], [])


def export_proposal(row: ProposalRow, directory: Path) -> Path:
    """One JSON file per proposal (sorted keys: the same proposal gives the same bytes). Besides the content
    (each joint with its source), ``model_joints``/``catalogue_joints`` (salient) or ``model_roles`` (roles)
    say what the model itself proposed, and ``parse_reason`` why a reply was not (fully) usable."""
    directory.mkdir(parents=True, exist_ok=True)
    own: dict[str, Any] = (
        {"model_joints": list(row.model_joints), "catalogue_joints": list(row.catalogue_joints)}
        if row.kind == "salient"
        else {"model_roles": row.model_roles}
    )
    body = {
        **own,
        "parse_reason": parse_reason(row),
        "schema": "biocoach.proposal/1",
        "id": row.id,
        "kind": row.kind,
        "exercise": row.exercise,
        "clip_hash": row.clip_hash,
        "clip_path": row.clip_path,
        "video_path": row.video_path,
        "segment": row.segment,
        "start_s": row.start_s,
        "end_s": row.end_s,
        "content": row.content,
        "model": row.model,
        "prompt": row.prompt,
        "reply": row.reply,
        "parse_status": row.parse_status,
        "status": row.status,
    }
    path = directory / f"{row.id}.json"
    path.write_text(json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _takes_images(client: LLMClient) -> bool:
    return isinstance(client, OpenAICompatibleClient)


def _as_chat(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    """ChatMessage types content as text; an OpenAI-compatible server also takes a list of content parts
    (text and image_url), which is what a message with frames carries. The JSON sent is the same either way."""
    return cast("list[ChatMessage]", messages)


def _exists(db: Database, pid: str) -> bool:
    with db.session() as s:
        return ReviewRepository(s).has_proposal(pid)


def _store(db: Database, row: ProposalRow, export_dir: Path | None) -> None:
    with db.session() as s:
        ReviewRepository(s).add_proposal(row)
    if export_dir is not None:
        export_proposal(row, export_dir)


def _exercise(db: Database, exercise: str) -> Exercise:
    return resolve(exercise, db)[0]
