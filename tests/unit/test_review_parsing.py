"""Parsing model replies into joints and roles, filling gaps from the catalogue, and reading annotations."""

from __future__ import annotations

import pytest

from workbench.exercises import load_catalogue
from workbench.review.proposals import parse_joints, parse_roles, roles_content, salient_content, storable_prompt
from workbench.review.sync import decide_roles, decide_salient, roles_result, salient_result
from workbench.skeleton import JOINT_NAMES


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "Hips, knees and ankles; also the lumbar spine.",
            {"femur_r", "femur_l", "tibia_r", "tibia_l", "talus_r", "talus_l", "lumbar_body"},
        ),
        ("right knee, left hip", {"tibia_r", "femur_l"}),
        ("tibia_r, thorax, HEAD", {"tibia_r", "thorax", "head"}),
        ("Keep the shoulder blades back", {"scapula_r", "scapula_l"}),
        ("left shoulder and both elbows", {"humerus_l", "ulna_r", "ulna_l"}),
        ("left and right knees, right shoulder blade", {"tibia_l", "tibia_r", "scapula_r"}),
        ("The squat looks great, well done!", set()),
        ("", set()),
    ],
)
def test_parse_joints(reply: str, expected: set[str]) -> None:
    got = parse_joints(reply)
    assert set(got) == expected
    assert list(got) == [j for j in JOINT_NAMES if j in expected]  # SKEL order, no duplicates


def test_parse_roles_headings_and_inline() -> None:
    text = "Dynamic: hips, knees\nStatic: pelvis, spine. - head: static\nelbows"
    roles = parse_roles(text)
    assert roles == {
        "femur_r": "dynamic",
        "femur_l": "dynamic",
        "tibia_r": "dynamic",
        "tibia_l": "dynamic",
        "pelvis": "static",
        "lumbar_body": "static",
        "head": "static",
    }
    # "elbows" follows an inline "head: static", not a heading: no role for it
    assert parse_roles("Dynamic:\n- knees\n- hips\nStatic:\n- thorax")["thorax"] == "static"
    assert parse_roles("knees dynamic. knees static")["tibia_r"] == "dynamic"  # first answer kept
    assert parse_roles("I cannot answer that.") == {}


def test_salient_gaps_filled_from_catalogue_with_sources() -> None:
    squat = load_catalogue().get("squat")
    content, status = salient_content(("thorax", "tibia_r"), squat)
    sources = {c["joint"]: c["source"] for c in content}
    assert status == "parsed"
    assert sources["thorax"] == "llm" and sources["tibia_r"] == "llm"
    assert {j for j, s in sources.items() if s == "catalogue"} == set(squat.salient_joints) - {"thorax", "tibia_r"}
    assert [c["joint"] for c in content] == [j for j in JOINT_NAMES if j in sources]
    content, status = salient_content((), squat)
    assert status == "unparsable" and {c["source"] for c in content} == {"catalogue"}
    assert [c["joint"] for c in content] == [j for j in JOINT_NAMES if j in squat.salient_joints]


def test_roles_cover_all_joints() -> None:
    squat = load_catalogue().get("squat")
    content, status = roles_content({"head": "dynamic"}, squat)
    assert status == "partial" and set(content) == set(JOINT_NAMES)
    assert content["head"] == {"role": "dynamic", "source": "llm"}
    assert content["tibia_r"] == {"role": "dynamic", "source": "catalogue"}  # squat: knees are dynamic
    assert content["ulna_r"] == {"role": "static", "source": "catalogue"}  # in neither list: static
    assert roles_content({}, squat)[1] == "unparsable"
    assert roles_content(dict.fromkeys(JOINT_NAMES, "static"), squat)[1] == "parsed"


def test_stored_prompt_keeps_text_and_digests_images() -> None:
    import base64

    jpeg = b"\xff\xd8\xff\xe0fake"
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}],
        }
    ]
    stored = storable_prompt(messages)
    assert stored[0]["content"][0] == {"type": "text", "text": "look"}
    assert stored[0]["content"][1]["image_url"]["url"].startswith(f"<jpeg {len(jpeg)} bytes sha256:")


def test_decisions_from_annotations() -> None:
    proposed = ("femur_r", "tibia_r", "thorax")
    assert decide_salient(salient_result(("thorax", "tibia_r", "femur_r")), proposed)[0] == "accepted"
    status, joints, _ = decide_salient(salient_result(("tibia_r", "head")), proposed)
    assert (status, joints) == ("corrected", ["tibia_r", "head"])
    reject = [
        *salient_result(proposed),
        {"from_name": "verdict", "type": "choices", "value": {"choices": ["reject"]}},
        {"from_name": "comment", "type": "textarea", "value": {"text": ["wrong clip"]}},
    ]
    assert decide_salient(reject, proposed) == ("rejected", ["femur_r", "tibia_r", "thorax"], "wrong clip")
    roles = dict.fromkeys(JOINT_NAMES, "static") | {"tibia_r": "dynamic"}
    assert decide_roles(roles_result(roles), roles)[0] == "accepted"
    # a joint left empty keeps its proposed role; one changed makes it a correction
    partial = [r for r in roles_result(roles) if r["from_name"] != "role_head"]
    assert decide_roles(partial, roles) == ("accepted", roles, "")
    status, got, _ = decide_roles(roles_result(roles | {"head": "dynamic"}), roles)
    assert status == "corrected" and got["head"] == "dynamic"


def test_label_configs_offer_every_joint() -> None:
    import xml.etree.ElementTree as ET

    from workbench.review.sync import label_config

    salient = ET.fromstring(label_config("salient"))
    joints = salient.find("Choices[@name='joints']")
    assert joints is not None and joints.get("choice") == "multiple" and joints.get("toName") == "video"
    assert [c.get("value") for c in joints.findall("Choice")] == list(JOINT_NAMES)
    series = salient.find("TimeSeries")
    video = salient.find("Video")
    assert series is not None and video is not None
    assert (series.get("sync"), video.get("sync")) == (video.get("name"), series.get("name"))  # synced both ways
    assert [c.get("column") for c in series.findall("Channel")] == list(JOINT_NAMES)  # the angle CSV's columns
    assert salient.find("TextArea[@name='comment']") is not None
    roles = ET.fromstring(label_config("roles"))
    per_joint = [c for c in roles.findall("Choices") if c.get("name", "").startswith("role_")]
    assert [c.get("name") for c in per_joint] == [f"role_{j}" for j in JOINT_NAMES]
    assert all([x.get("value") for x in c.findall("Choice")] == ["static", "dynamic"] for c in per_joint)
