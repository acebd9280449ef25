"""The evidence benchmark's scoring on a small controlled set made here: which changes the evidence names, the claim
check on right and clip-swapped texts, and the script end to end."""

import csv
import json
import subprocess
import sys

import pytest
import soundfile as sf

from adiff_hf.evaluation.evidence_accuracy import (
    evidence_accuracy,
    expected_sign,
    grounding_accuracy,
    measure_pairs,
    read_pairs,
    reference_answers,
    swap_clips,
)
from conftest import EVIDENCE_RATE as RATE
from conftest import REPO, melody
from conftest import gapped as _gapped

CHANGES = {  # change -> (value, the changed copy, the builder's few-words answer)
    "gain": (-8.0, lambda w: w * 10 ** (-8 / 20), "Audio 2 is quieter."),
    "pitch": (4.0, lambda w: melody(f0=220 * 2 ** (4 / 12)), "Audio 2 is higher-pitched."),
    "gap": (0.4, _gapped, "Audio 2 is interrupted."),
    "reverse": (1.0, lambda w: w[::-1].copy(), "Audio 2 is reversed."),  # no measure names it: counted, not scored
}


@pytest.fixture(scope="module")
def controlled(tmp_path_factory):
    """A data directory in the builder's layout: four changed pairs and one identical pair."""
    root = tmp_path_factory.mktemp("controlled")
    (root / "audio").mkdir()
    base = melody()
    sf.write(root / "audio" / "source.wav", base, RATE)
    pairs, rows = [], []
    for index, (change, (value, make, answer)) in enumerate(CHANGES.items()):
        path = f"audio/changed_{index}.wav"
        sf.write(root / path, make(base), RATE)
        pairs.append(
            {"kind": "change", "change": change, "value": value, "changed_clip": 2, "labels": ["a melody"]}
            | {"filepath1": "audio/source.wav", "filepath2": path}
        )
        rows.append({"filepath1": "audio/source.wav", "filepath2": path, "answer": answer})
    pairs.append({"kind": "identical", "labels": ["a melody"], "filepath1": "audio/source.wav"})
    pairs[-1]["filepath2"] = "audio/source.wav"
    rows.append({"filepath1": "audio/source.wav", "filepath2": "audio/source.wav", "answer": "No audible difference."})
    with open(root / "test_pairs.jsonl", "w") as f:
        f.writelines(json.dumps(p) + "\n" for p in pairs)
    with open(root / "test.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["filepath1", "filepath2", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_expected_signs_and_clip_swaps():
    assert expected_sign("gain", -8.0, 2) == -1 and expected_sign("gain", -8.0, 1) == 1
    assert expected_sign("tempo", 1.3, 2) == 1 and expected_sign("lowpass", 900, 1) == 1
    # reversal is a relation (both clips have it: sign 0, found in both); a codec names the coded clip
    assert expected_sign("reverse", 1.0, 2) == 0 and expected_sign("codec", 9.0, 1) == -1
    assert expected_sign("identical", 0.0, 1) is None
    assert swap_clips("Audio 1 is louder than audio 2; the first clip is muffled.") == (
        "Audio 2 is louder than audio 1; the second clip is muffled."
    )


def test_accuracy_and_grounding_on_known_pairs(controlled):
    pairs = read_pairs(controlled, "test")
    evidences, seconds = measure_pairs(str(controlled), pairs)
    assert len(seconds) == 5 and all(s > 0 for s in seconds)
    result = evidence_accuracy(pairs, evidences)
    assert {c: r["accuracy"] for c, r in result["per_change"].items()} == {
        "gain": 1.0,
        "gap": 1.0,
        "pitch": 1.0,
        "reverse": 1.0,
    }
    assert result["same_pairs"] == 1 and result["same_no_finding"] == 1.0
    answers = reference_answers(str(controlled), "test")
    texts = [answers[(p["filepath1"], p["filepath2"])][0] for p in pairs]
    right = grounding_accuracy(evidences, texts)
    # the reversed pair's "played backwards" is measured now: every claim is supported
    assert right["outcomes"] == {"supported": 5} and right["flagged_of_checkable"] == 0.0
    assert right["answers"] == {"claims supported": 5}
    wrong = grounding_accuracy(evidences[:4], [swap_clips(t) for t in texts[:4]])
    # "played backwards" stays true with the clips swapped (a relation): supported, the three others contradicted
    assert wrong["outcomes"] == {"contradicted": 3, "supported": 1}
    assert wrong["flagged_of_checkable"] == 0.75 and wrong["flagged_of_all"] == 0.75
    assert wrong["answers"] == {"flagged": 3, "claims supported": 1}
    empty = grounding_accuracy(evidences[:2], ["Two clips.", "Audio 2 sounds like a phone call."])
    assert empty["answers"] == {"no claim parsed": 1, "nothing checkable": 1}


def test_the_benchmark_script_end_to_end(controlled, tmp_path):
    output = tmp_path / "evidence.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_evidence.py", str(controlled), "--output", str(output)]
        + ["--cost-seconds", "1", "2"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    gain = results["splits"]["test"]["evidence"]["per_change"]["gain"]
    assert (gain["pairs"], gain["accuracy"]) == (1, 1.0) and set(gain) == {"pairs", "accuracy", "other_findings"}
    assert "loudness" not in gain["other_findings"]  # the change's own property is not "other"
    assert [row["seconds"] for row in results["cost"]] == [1, 2] and all(r["pair_seconds"] > 0 for r in results["cost"])
    assert "| gain | 1 | 100.0% | ≥ 95% |" in done.stdout
    assert "| the same, clips swapped (wrong) | 3 |" in done.stdout  # a reversal swapped is still right
