"""The local difference dataset builder on a few generated clips: schema, package-level splits, field-library
effects, identical pairs, tiers that differ in kind, and the attribute scoring that reads its answers."""

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adiff_hf.data import load_difference_csv
from adiff_hf.data.changes import RATE, Change, Source, apply_change, draw_change
from adiff_hf.data.local import build_difference_dataset
from adiff_hf.data.local.render import _midi_file
from adiff_hf.evaluation.attributes import named_clip, names_change, read_pairs, says_same, score_answers
from conftest import REPO, noise, tone

SPLITS = {"train": 16, "validation": 4, "test": 4, "test_unseen": 6}
TIER_INPUTS = {
    "few_words": "explain the difference in few words",
    "sentence": "explain the difference in a sentence",
    "detail": "explain the difference in detail",
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sources")
    made = []
    sounds = {
        ("a low hum", "pkg-a"): tone(120, 1.5, 16000),
        ("a whistle", "pkg-a"): tone(2500, 1.0, 16000),
        ("a hiss", "pkg-a"): noise(1.2, 16000),
        ("a beep", "pkg-a"): tone(1000, 0.4, 16000),
        ("a chord", "pkg-b"): tone(440, 1.0, 16000) + tone(550, 1.0, 16000),
        ("a buzz", "pkg-b"): np.sign(tone(200, 1.0, 16000)) * 0.3,
        ("a ping", "pkg-c"): tone(3000, 0.5, 16000) * np.exp(-np.arange(8000) / 2000),
        ("a rumble", "pkg-c"): noise(1.0, 16000, seed=3) * 0.1,
    }
    for i, ((label, package), wave) in enumerate(sounds.items()):
        path = directory / f"clip{i}.wav"
        sf.write(path, wave.astype(np.float32), 16000)
        made.append(Source(str(path), label, package, "CC0"))
    return made


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    report = build_difference_dataset(sources, out, SPLITS, seed=3, unseen_packages=("pkg-c",))
    return out, report


def _rows(report, split):
    return list(csv.DictReader(open(report.splits[split])))


def test_csvs_in_the_acd_schema_with_three_tiers(built):
    out, report = built
    for split, count in SPLITS.items():
        rows = _rows(report, split)
        assert len(rows) == 3 * count
        assert {r["input"] for r in rows} == set(TIER_INPUTS.values())
        dataset = load_difference_csv(report.splits[split])  # audio paths resolve under the output directory
        assert set(dataset["tier"]) == {"few_words", "sentence", "detail"}
        assert all(r["caption1"] and r["caption2"] and r["answer"] for r in rows)


def test_splits_are_by_source_clip_and_package_and_deterministic(built, sources, tmp_path):
    out, report = built
    manifest = json.loads((out / "manifest.json").read_text())
    splits = {}
    for entry in manifest["sources"]:
        assert entry["path"] not in splits, "a source clip in two splits"
        splits[entry["path"]] = entry["split"]
        assert entry["license"] == "CC0"
        # the unseen package is heard in test_unseen only, and test_unseen holds nothing else
        assert (entry["package"] == "pkg-c") == (entry["split"] == "test_unseen"), entry
    assert len(splits) == len(sources) and manifest["unseen_packages"] == ["pkg-c"]
    # pairs only use labels of their own split's sources
    for split in report.splits:
        labels = {e["label"] for e in manifest["sources"] if e["split"] == split}
        for row in _rows(report, split):
            assert any(row["caption1"].lower().startswith(label) for label in labels), (split, row["caption1"])
    again = build_difference_dataset(sources, tmp_path, SPLITS, seed=3, unseen_packages=("pkg-c",))
    for split in report.splits:
        assert Path(again.splits[split]).read_text() == Path(report.splits[split]).read_text()
    first = sorted((out / "audio").rglob("*.wav"))
    assert [p.read_bytes() for p in first] == [(tmp_path / p.relative_to(out)).read_bytes() for p in first]
    with pytest.raises(ValueError, match="test_unseen"):
        build_difference_dataset(sources, tmp_path, {"train": 4, "test": 2}, unseen_packages=("pkg-c",))


def test_every_pair_kind_is_built(sources, tmp_path):
    # equal shares: which clips land in train follows from their paths (pytest's temporary directory), so with the
    # default mix a rare kind could be missing from 60 pairs by chance; with equal shares that chance is 8e-6
    equal = dict.fromkeys(("change", "two_changes", "identical", "near_identical", "sources"), 1.0)
    report = build_difference_dataset(sources, tmp_path, {"train": 60, "validation": 4, "test": 4}, seed=1, mix=equal)
    assert all(report.kinds["train"][k] > 0 for k in ("change", "two_changes", "identical", "near_identical"))
    assert report.kinds["train"]["sources"] > 0
    with pytest.raises(ValueError, match="mix"):
        build_difference_dataset(sources, tmp_path, {"train": 4, "test": 2}, mix={"louder": 1.0})


def test_identical_pairs_sound_the_same_and_say_so(built):
    out, report = built
    pairs = [p for split in SPLITS for p in read_pairs(out, split) if p["kind"] in ("identical", "near_identical")]
    assert pairs
    answers = {(r["filepath1"], r["filepath2"], r["input"]): r["answer"] for s in SPLITS for r in _rows(report, s)}
    for pair in pairs:
        one, _ = sf.read(out / pair["filepath1"])
        two, _ = sf.read(out / pair["filepath2"])
        if pair["kind"] == "identical":
            assert pair["filepath1"] == pair["filepath2"]  # the same file twice, as a user would try
        else:
            level = 20 * np.log10(np.sqrt(np.mean(one**2)) / np.sqrt(np.mean(two**2)))
            assert abs(level) < 0.5 and len(one) == len(two)
        for prompt in TIER_INPUTS.values():
            assert says_same(answers[(pair["filepath1"], pair["filepath2"], prompt)], pair["labels"]), pair


def test_tiers_differ_in_kind(built):
    out, report = built
    by_pair = {}
    for row in _rows(report, "train"):
        by_pair.setdefault((row["filepath1"], row["filepath2"]), {})[row["input"]] = row
    pairs = {(p["filepath1"], p["filepath2"]): p for p in read_pairs(out, "train")}
    for key, tiers in by_pair.items():
        few, sentence, detail = (tiers[TIER_INPUTS[t]]["answer"] for t in TIER_INPUTS)
        assert len(few.split()) <= 12 < len(detail.split())
        assert len(detail.split()) >= 40, detail
        assert len(re.findall(r"[.!?](?:\s+[A-Z]|$)", sentence)) == 1, sentence  # one sentence
        if pairs[key]["kind"] == "change" and pairs[key]["change"] in ("gain", "pitch", "tempo", "speed"):
            assert re.search(r"\d", sentence), sentence  # the sentence gives the size of the change
        if pairs[key]["kind"] in ("change", "two_changes"):
            assert "listener" in detail or "heard side by side" in detail.lower()  # how it strikes a listener


def test_answers_match_the_audio(sources, tmp_path):
    # changed pairs only, enough of them that level changes are among them
    report = build_difference_dataset(sources, tmp_path, {"train": 60, "test": 2}, seed=5, mix={"change": 1.0})
    checked = 0
    for row in _rows(report, "train"):
        if row["input"] != TIER_INPUTS["few_words"] or not row["taskname"].startswith("local:change:gain"):
            continue
        one, _ = sf.read(tmp_path / row["filepath1"])
        two, _ = sf.read(tmp_path / row["filepath2"])
        louder_first = np.sqrt(np.mean(one**2)) > np.sqrt(np.mean(two**2))
        said_louder = names_change(row["answer"], "louder")
        # "audio 1 is louder" or, read from the other clip, "audio 2 is quieter"
        assert louder_first == ((named_clip(row["answer"]) == 1) == said_louder), row
        checked += 1
    assert checked >= 2


def _dominant(wave):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.argmax(spectrum) * RATE / len(wave)


@pytest.mark.parametrize(
    "change",
    [
        Change("gain", 6.0, "louder", ""),
        Change("speed", 1.25, "faster", ""),
        Change("tempo", 1.25, "faster", ""),
        Change("pitch", 5.0, "higher-pitched", ""),
        Change("reverse", 1.0, "reversed", ""),
        Change("lowpass", 1000.0, "muffled", ""),
        Change("highpass", 2000.0, "thin", ""),
        Change("noise", 10.0, "noisier", ""),
        Change("gap", 0.3, "interrupted", ""),
        Change("reverb", 0.9, "reverberant", ""),
        Change("echo", 0.3, "echoing", ""),
        Change("distortion", 30.0, "distorted", ""),
        Change("bitcrush", 3.0, "grainy", ""),
        Change("compression", -35.0, "compressed", ""),
        Change("codec", 0.0, "codec-degraded", "", variant="gsm"),
    ],
)
def test_controlled_changes_do_what_they_say(change):
    rng = np.random.default_rng(0)
    wave = (0.3 * tone(440, 1, RATE) + 0.1 * tone(5000, 1, RATE)).astype(np.float32)
    wave[: RATE // 2] *= np.linspace(0.05, 1, RATE // 2)  # a swell: dynamics for the compressor to squash
    # the gap checked where its first implementation puts it (tests/test_ear.py checks every implementation)
    out = apply_change(wave, change, rng, implementation="at_30" if change.name == "gap" else None)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0

    def rms(x):
        return float(np.sqrt(np.mean(x**2)))

    def band(x, lo, hi):
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(spectrum[int(lo * len(x) / RATE) : int(hi * len(x) / RATE)].sum())

    if change.name == "gain":
        assert 20 * np.log10(rms(out) / rms(wave)) == pytest.approx(6.0, abs=0.2)
    elif change.name == "speed":
        assert len(out) == pytest.approx(len(wave) / 1.25, rel=0.01)
        assert _dominant(out) == pytest.approx(440 * 1.25, rel=0.03)
    elif change.name == "tempo":  # shorter, same pitch
        assert len(out) == pytest.approx(len(wave) / 1.25, rel=0.03)
        assert _dominant(out) == pytest.approx(440, rel=0.03)
    elif change.name == "pitch":  # same length, 5 semitones up
        assert len(out) == len(wave)
        assert _dominant(out) == pytest.approx(440 * 2 ** (5 / 12), rel=0.03)
    elif change.name == "reverse":
        np.testing.assert_array_equal(out, wave[::-1])
    elif change.name == "lowpass":
        assert band(out, 4000, 6000) < 0.05 * band(wave, 4000, 6000)
    elif change.name == "highpass":
        assert band(out, 300, 600) < 0.1 * band(wave, 300, 600) * rms(out) / rms(wave)
    elif change.name == "noise":
        snr = 10 * np.log10(np.mean(wave**2) / np.mean((out - wave) ** 2))
        assert snr == pytest.approx(10.0, abs=0.5)
    elif change.name == "gap":
        assert (np.abs(out[int(len(out) * 0.3) : int(len(out) * 0.3) + int(0.3 * RATE)]) == 0).all()
    elif change.name in ("reverb", "echo"):  # a tail after the sound ends, at the clip's level
        assert len(out) > len(wave) and rms(out[len(wave) :]) > 0.01
    elif change.name == "distortion":  # harmonics between the two tones that were not there
        assert band(out, 1200, 1400) > 20 * band(wave, 1200, 1400)
    elif change.name == "bitcrush":
        assert len(np.unique(np.round(out / np.abs(out).max(), 3))) <= 2**3 + 2
    elif change.name == "compression":  # the swell is flattened: the quiet start comes up relative to the end
        start, end = rms(out[: RATE // 8]) / rms(out[-RATE // 8 :]), rms(wave[: RATE // 8]) / rms(wave[-RATE // 8 :])
        assert start > 1.5 * end
    elif change.name == "codec":  # a GSM phone line: 8 kHz sampling, nothing left above 4 kHz
        assert band(out, 4500, 5500) < 0.1 * band(wave, 4500, 5500)
    if change.name not in ("gain", "noise", "gap", "speed", "reverse"):
        assert rms(out) == pytest.approx(rms(wave), rel=0.1)  # level kept: only gain changes it


def test_drawn_strengths_vary(built):
    rng = np.random.default_rng(0)
    values = {name: {draw_change(rng, name).value for _ in range(20)} for name in ("gain", "lowpass", "reverb")}
    assert all(len(v) >= 10 for v in values.values()), values


def test_known_attributes_score_oracle_answers_perfectly_at_every_tier(built):
    out, report = built
    pairs = [p for s in SPLITS for p in read_pairs(out, s) if p["kind"] != "sources"]
    rows = {(r["filepath1"], r["filepath2"], r["input"]): r["answer"] for s in SPLITS for r in _rows(report, s)}
    for prompt in TIER_INPUTS.values():
        answers = [rows[(p["filepath1"], p["filepath2"], prompt)] for p in pairs]
        scores = score_answers(pairs, answers)
        assert scores["accuracy"] == 1.0 and scores["same_accuracy"] == 1.0, scores["mistakes"]
        swapped = [a.replace("udio 1", "@").replace("udio 2", "udio 1").replace("@", "udio 2") for a in answers]
        # a reversal is the same from either clip ("audio 1 is reversed" is as right): the others flip
        sided = [i for i, p in enumerate(pairs) if "reverse" not in {c["change"] for c in p.get("changes", [])}]
        assert score_answers([pairs[i] for i in sided], [swapped[i] for i in sided])["clip_accuracy"] == 0.0
    changed = {"kind": "change", "change": "gain", "value": 6.0, "changed_clip": 2, "labels": ["a hum"] * 2}
    changed["filepath1"] = "pair.wav"
    clip, opposite = changed["changed_clip"], "quieter" if changed["value"] > 0 else "louder"
    assert score_answers([changed], [f"Audio {clip} is {opposite}."])["change_accuracy"] == 0.0
    # a level change read from the other clip is as right: "audio 2 is louder" is "audio 1 is quieter"
    assert score_answers([changed], [f"Audio {3 - clip} is {opposite}."])["accuracy"] == 1.0
    assert says_same("They sound the same.") and not says_same("Same sound; audio 2 is reverberant.")


def test_midi_writer_makes_a_standard_midi_file(tmp_path):
    path = tmp_path / "x.mid"
    _midi_file([(60, 0.5), (64, 0.25)], 40, str(path))
    data = path.read_bytes()
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk" and bytes([0xC0, 40]) in data
    assert data.endswith(b"\xff\x2f\x00")


def test_measure_script_end_to_end(built, tiny_adiff_dir, tmp_path):
    import subprocess

    out, _ = built
    args = [sys.executable, str(REPO / "scripts" / "score_on_local_data.py"), "--model", str(tiny_adiff_dir)]
    args += ["--data_dir", str(out), "--output_dir", str(tmp_path), "--split", "test_unseen"]
    args += ["--max_new_tokens", "6", "--bootstrap_samples", "10"]
    result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    attributes = json.loads((tmp_path / "attributes.json").read_text())
    assert set(attributes) == {"model", "clips swapped", "clips silenced"}
    assert set(attributes["model"]) == {"few_words", "sentence", "detail"}
    assert set(attributes["clips swapped"]) == {"few_words"}
    pairs = [p for p in read_pairs(out, "test_unseen") if p["kind"] != "sources"]
    for tiers in attributes.values():
        for r in tiers.values():
            assert len(r["answers"]) == len(pairs)
            assert r["pairs"] + r["same_pairs"] == len(pairs)
            assert r["accuracy"] is None or 0 <= r["accuracy"] <= 1
    report = (tmp_path / "report.md").read_text()
    assert "| model | metric | LOCAL-1 | LOCAL-2 | LOCAL-3 |" in report and "| clips silenced | few_words |" in report


def test_a_model_that_reads_its_ears_heads_is_measured_on_the_log_mels(built):
    """Clip embeddings cannot carry what the ear's heads read: such a model is measured on the log-mels, and its
    answers are those it gives the audio files directly."""
    import torch
    from transformers import AutoTokenizer

    from adiff_hf import ADiffFeatureExtractor, ADiffForConditionalGeneration, ADiffProcessor
    from adiff_hf.data.changes import EAR_LABEL_WORDS
    from adiff_hf.evaluation.attributes import answer_pairs, pair_embeddings
    from adiff_hf.testing_utils import tiny_adiff_config
    from conftest import TOKENIZER_DIR

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    ids = {h: [tokenizer(" " + w, add_special_tokens=False).input_ids for w in ws] for h, ws in EAR_LABEL_WORDS.items()}
    ear = {"model_type": "adiff_ear", "channels": [4, 8], "time_strides": [2, 2], "hidden_size": 16}
    config = tiny_adiff_config(
        audio_config=ear | {"label_words": EAR_LABEL_WORDS}, ear_word_prefix=True, ear_word_token_ids=ids
    )
    torch.manual_seed(0)
    model = ADiffForConditionalGeneration(config).eval()
    processor = ADiffProcessor(ADiffFeatureExtractor(), tokenizer, num_prefix_tokens=config.num_prefix_tokens)
    out, _ = built
    pairs = [p for p in read_pairs(out, "test_unseen") if p["kind"] != "sources"][:3]
    heard = pair_embeddings(model, processor, pairs, str(out))
    assert heard.shape == (3, 2, 1001, 64)  # the log-mels themselves
    answers = answer_pairs(model, processor, heard, "few_words", max_new_tokens=4)
    for pair, answer in zip(pairs, answers, strict=True):
        audio = [tuple(str(out / pair[k]) for k in ("filepath1", "filepath2"))]
        inputs = processor(text=["explain the difference between the two audio in few words"], audio=audio)
        direct = model.generate(**inputs, max_new_tokens=4, do_sample=False)
        assert answer == processor.batch_decode(direct)[0]
