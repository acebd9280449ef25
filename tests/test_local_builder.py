"""The local difference dataset builder on a few generated clips: schema, splits by source, controlled changes."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adiff_hf.data import load_difference_csv
from adiff_hf.evaluation.attributes import parse_answer
from conftest import REPO, noise, tone

sys.path.insert(0, str(REPO / "scripts"))  # the builder is a recipe beside its command line, not library code
from local_difference_data import RATE, Change, Source, apply_change, build_difference_dataset  # noqa: E402


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sources")
    made = []
    sounds = {
        "a low hum": tone(120, 1.5, 16000),
        "a whistle": tone(2500, 1.0, 16000),
        "a hiss": noise(1.2, 16000),
        "a beep": tone(1000, 0.4, 16000),
        "a chord": tone(440, 1.0, 16000) + tone(550, 1.0, 16000),
        "a buzz": np.sign(tone(200, 1.0, 16000)) * 0.3,
        "a ping": tone(3000, 0.5, 16000) * np.exp(-np.arange(8000) / 2000),
        "a rumble": noise(1.0, 16000, seed=3) * 0.1,
    }
    for i, (label, wave) in enumerate(sounds.items()):
        path = directory / f"clip{i}.wav"
        sf.write(path, wave.astype(np.float32), 16000)
        made.append(Source(str(path), label, "generated", "CC0"))
    return made


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    report = build_difference_dataset(sources, out, {"train": 12, "validation": 4, "test": 4}, seed=3)
    return out, report


def test_csvs_in_the_acd_schema_with_three_tiers(built):
    out, report = built
    for split, count in {"train": 12, "validation": 4, "test": 4}.items():
        rows = list(csv.DictReader(open(report.splits[split])))
        assert len(rows) == 3 * count
        assert {r["input"] for r in rows} == {
            "explain the difference in few words",
            "explain the difference in a sentence",
            "explain the difference in detail",
        }
        dataset = load_difference_csv(report.splits[split])  # audio paths resolve under the output directory
        assert set(dataset["tier"]) == {"few_words", "sentence", "detail"}
        assert all(r["caption1"] and r["caption2"] and r["answer"] for r in rows)


def test_splits_are_by_source_clip_and_deterministic(built, sources, tmp_path):
    out, report = built
    manifest = json.loads((out / "manifest.json").read_text())
    splits = {}
    for entry in manifest["sources"]:
        assert entry["path"] not in splits, "a source clip in two splits"
        splits[entry["path"]] = entry["split"]
        assert entry["license"] == "CC0" and entry["package"] == "generated"
    assert len(splits) == len(sources)
    # pairs only use labels of their own split's sources
    for split, path in report.splits.items():
        labels = {e["label"] for e in manifest["sources"] if e["split"] == split}
        for row in csv.DictReader(open(path)):
            assert any(row["caption1"].lower().startswith(label) for label in labels), (split, row["caption1"])
    again = build_difference_dataset(sources, tmp_path, {"train": 12, "validation": 4, "test": 4}, seed=3)
    for split in report.splits:
        assert Path(again.splits[split]).read_text() == Path(report.splits[split]).read_text()
    first = sorted((out / "audio").glob("*.wav"))
    assert [p.read_bytes() for p in first] == [(tmp_path / "audio" / p.name).read_bytes() for p in first]


def test_answers_match_the_audio(built):
    out, report = built
    checked = 0
    for row in csv.DictReader(open(report.splits["train"])):
        if row["input"] != "explain the difference in few words" or not row["taskname"].startswith("local:change:gain"):
            continue
        one, _ = sf.read(out / row["filepath1"])
        two, _ = sf.read(out / row["filepath2"])
        louder_first = np.sqrt(np.mean(one**2)) > np.sqrt(np.mean(two**2))
        clip, words = parse_answer(row["answer"])
        assert louder_first == ((clip == 1) == ("louder" in words)), row
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize(
    "change",
    [
        Change("gain", 6.0, "louder", ""),
        Change("speed", 1.25, "faster", ""),
        Change("reverse", 1.0, "reversed", ""),
        Change("lowpass", 1000.0, "muffled", ""),
        Change("noise", 10.0, "noisier", ""),
        Change("gap", 0.3, "interrupted", ""),
    ],
)
def test_controlled_changes_do_what_they_say(change):
    rng = np.random.default_rng(0)
    wave = (0.3 * tone(440, 1, RATE) + 0.1 * tone(5000, 1, RATE)).astype(np.float32)
    out = apply_change(wave, change, rng)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    high = lambda x: float(np.abs(np.fft.rfft(x))[int(4000 * len(x) / RATE) :].sum())  # noqa: E731
    if change.name == "gain":
        assert 20 * np.log10(rms(out) / rms(wave)) == pytest.approx(6.0, abs=0.2)
    elif change.name == "speed":
        assert len(out) == pytest.approx(len(wave) / 1.25, rel=0.01)
    elif change.name == "reverse":
        np.testing.assert_array_equal(out, wave[::-1])
    elif change.name == "lowpass":
        assert high(out) < 0.05 * high(wave)
    elif change.name == "noise":
        snr = 10 * np.log10(np.mean(wave**2) / np.mean((out - wave) ** 2))
        assert snr == pytest.approx(10.0, abs=0.5)
    else:
        assert (np.abs(out[len(out) // 3 : len(out) // 3 + int(0.3 * RATE)]) == 0).all()


def test_known_attributes_score_oracle_answers_perfectly(built):
    from adiff_hf.evaluation.attributes import expected, read_pairs, score_answers

    out, report = built
    pairs = [p for p in read_pairs(out, "train") if p["kind"] == "change"]
    rows = {(r["filepath1"], r["input"]): r["answer"] for r in csv.DictReader(open(report.splits["train"]))}
    scorable = [p for p in pairs if p["change"] in ("gain", "speed", "reverse", "noise", "gap", "clipping")]
    answers = [rows[(p["filepath1"], "explain the difference in few words")] for p in scorable]
    assert scorable and score_answers(scorable, answers)["accuracy"] == 1.0  # the dataset's own answers are right
    flipped = [a.replace("Audio 1", "@").replace("Audio 2", "Audio 1").replace("@", "Audio 2") for a in answers]
    flipped = [a.replace("audio 1", "@").replace("audio 2", "audio 1").replace("@", "audio 2") for a in flipped]
    assert score_answers(scorable, flipped)["clip_accuracy"] == 0.0
    clip, word = expected({"change": "gain", "value": -6.0, "changed_clip": 2})
    assert (clip, word) == (2, "quieter")


def test_measure_script_end_to_end(built, tiny_adiff_dir, tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    out, _ = built
    args = [sys.executable, str(REPO / "scripts" / "measure_adiff.py"), "--model", str(tiny_adiff_dir)]
    args += [
        "--data_dir",
        str(out),
        "--output_dir",
        str(tmp_path),
        "--max_new_tokens",
        "6",
        "--bootstrap_samples",
        "10",
    ]
    result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    attributes = json.loads((tmp_path / "attributes.json").read_text())
    assert set(attributes) == {"model", "clips swapped", "clips silenced"}
    assert all(0 <= r["accuracy"] <= 1 and r["pairs"] >= 1 for r in attributes.values())
    report = (tmp_path / "report.md").read_text()
    assert "| model | metric | LOCAL-1 | LOCAL-2 | LOCAL-3 |" in report and "| clips silenced |" in report
