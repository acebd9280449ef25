"""Grounded decoding: the chooser on hand-written candidates, `pipe(..., grounded=N)` and `explain --grounded N`."""

import json

import numpy as np
import pytest
import soundfile as sf
import transformers

import adiff_hf  # noqa: F401  (registers the task)
from adiff_hf.evidence import SUPPORTED, choose_candidate, compare_clips
from conftest import EVIDENCE_RATE, melody, run_cli

GEN = {"max_new_tokens": 6}
QUIETER = 10 ** (-8 / 20)  # audio 2 is audio 1, 8 dB down


@pytest.fixture(scope="module")
def pair():
    wave = melody()
    return wave, (wave * QUIETER).astype(np.float32)


@pytest.fixture(scope="module")
def evidence(pair):
    return compare_clips(*pair, sampling_rate=EVIDENCE_RATE)


@pytest.fixture(scope="module")
def pipe(tiny_adiff_dir):
    return transformers.pipeline("audio-difference", model=str(tiny_adiff_dir))


@pytest.fixture(scope="module")
def wavs(pair, tmp_path_factory):
    directory = tmp_path_factory.mktemp("grounded")
    paths = []
    for name, wave in zip(("melody.wav", "melody_quieter.wav"), pair, strict=True):
        sf.write(directory / name, wave, EVIDENCE_RATE)
        paths.append(directory / name)
    return paths


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_chooser_passes_over_a_contradicted_candidate(evidence):
    louder, quieter = "Audio 2 is louder than audio 1.", "Audio 2 is quieter than audio 1."
    grounding = choose_candidate([louder, quieter], evidence)
    assert [c.text for c in grounding.candidates] == [louder, quieter]
    assert [(c.rank, c.contradicted, c.supported) for c in grounding.candidates] == [(1, 1, 0), (2, 0, 1)]
    assert grounding.text == quieter and grounding.chosen.rank == 2
    assert [claim.outcome for claim in grounding.claims] == [SUPPORTED]
    assert grounding.summary() == "Grounded: chose candidate 2 of 2 (0 contradicted, 1 supported claim)"
    # fewest contradicted first: a text with no claim at all beats a contradicted one, whatever the model's order
    assert choose_candidate([louder, "A melody."], evidence).text == "A melody."
    # then the most supported
    assert choose_candidate(["A melody.", quieter], evidence).text == quieter
    result = grounding.to_dict()
    assert result["generated_text"] == quieter and result["chosen"] == 2
    assert result["claims"][0]["outcome"] == SUPPORTED and result["evidence"]["differences"]
    assert result["candidates"][0] == {"text": louder, "contradicted": 1, "supported": 0, "rank": 1, "score": None}
    _strict_json(json.dumps(result))


def test_ties_fall_back_to_the_model_order(evidence):
    first, second = "Audio 2 is quieter.", "The second recording is softer."
    assert [c.outcome for t in (first, second) for c in choose_candidate([t], evidence).claims] == [SUPPORTED] * 2
    assert choose_candidate([first, second], evidence).text == first
    assert choose_candidate([second, first], evidence).text == second
    # sequence scores, where given, are the model's order (higher first)
    by_score = choose_candidate([first, second], evidence, scores=[-2.0, -1.0])
    assert by_score.text == second and [c.text for c in by_score.candidates] == [second, first]
    assert [(c.rank, c.score) for c in by_score.candidates] == [(1, -1.0), (2, -2.0)]
    # with nothing checkable, the model's best
    assert choose_candidate(["A dog.", "A cat."], evidence).text == "A dog."
    with pytest.raises(ValueError, match="at least one candidate"):
        choose_candidate([], evidence)
    with pytest.raises(ValueError, match="2 candidates but 1 scores"):
        choose_candidate([first, second], evidence, scores=[0.0])


def test_pipeline_returns_the_best_grounded_of_its_candidates(pipe, pair, evidence):
    a, b = pair
    out = pipe(a, b, sampling_rate=EVIDENCE_RATE, grounded=3, **GEN)
    assert len(out) == 1
    result = out[0]
    candidates = result["candidates"]
    assert len(candidates) == 3 and [c["rank"] for c in candidates] == [1, 2, 3]
    assert result["generated_text"] in [c["text"] for c in candidates]
    chosen = candidates[result["chosen"] - 1]
    assert chosen["text"] == result["generated_text"]
    assert chosen["contradicted"] == min(c["contradicted"] for c in candidates)
    assert all(isinstance(c["score"], float) for c in candidates)  # beam search's sequence scores
    assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    assert result["evidence"]["differences"] == evidence.sentences
    # the candidates are the beams of plain beam search
    beams = pipe(a, b, sampling_rate=EVIDENCE_RATE, num_beams=3, num_return_sequences=3, **GEN)
    assert [c["text"] for c in candidates] == [r["generated_text"] for r in beams]
    # two pairs in one batch: one grounded result each, as one at a time
    many = pipe([(a, b), (b, a)], sampling_rate=EVIDENCE_RATE, grounded=3, batch_size=2, **GEN)
    assert [len(results) for results in many] == [1, 1]
    assert [c["text"] for c in many[0][0]["candidates"]] == [c["text"] for c in candidates]
    assert many[0][0]["generated_text"] == result["generated_text"] and len(many[1][0]["candidates"]) == 3
    assert many[1][0]["evidence"]["differences"] != many[0][0]["evidence"]["differences"]  # measured per pair
    # grounded=1 is plain decoding
    assert pipe(a, b, sampling_rate=EVIDENCE_RATE, grounded=1, **GEN) == pipe(a, b, sampling_rate=EVIDENCE_RATE, **GEN)


def test_pipeline_chooses_by_the_claims_through_its_decoding(pipe, pair, monkeypatch):
    """The beams' texts replaced by hand-written ones: the model's best contradicts the evidence, its second does
    not, and the second is returned."""
    texts = ["Audio 2 is louder.", "Audio 2 is quieter.", "Audio 2 is louder and brighter."]

    def decode(sequences, **kwargs):
        return texts[: len(sequences)]

    monkeypatch.setattr(pipe.processor, "batch_decode", decode)
    result = pipe(*pair, sampling_rate=EVIDENCE_RATE, grounded=3, **GEN)[0]
    assert result["generated_text"] == "Audio 2 is quieter." and result["chosen"] == 2
    assert [(c["contradicted"], c["supported"]) for c in result["candidates"]] == [(1, 0), (0, 1), (1, 0)]
    assert [claim["outcome"] for claim in result["claims"]] == [SUPPORTED]
    sampled = pipe(*pair, sampling_rate=EVIDENCE_RATE, grounded=2, do_sample=True, **GEN)[0]
    assert sampled["generated_text"] == "Audio 2 is quieter." and sampled["chosen"] == 2
    # samples have no sequence score: their order is the one decoding returned
    assert [(c["score"], c["contradicted"]) for c in sampled["candidates"]] == [(None, 1), (None, 0)]


def test_bad_grounded_values_are_named(pipe, pair):
    a, b = pair
    for bad in (0, -2, 2.5, "3", True):
        with pytest.raises(ValueError, match="grounded must be a whole number of candidates, at least 1"):
            pipe(a, b, sampling_rate=EVIDENCE_RATE, grounded=bad, **GEN)
    with pytest.raises(ValueError, match="grounded=3 .* leave num_return_sequences out"):
        pipe(a, b, sampling_rate=EVIDENCE_RATE, grounded=3, num_return_sequences=2, **GEN)


def test_cli_grounded_json_and_text(tiny_adiff_dir, wavs):
    args = ["explain", *wavs, "--model", tiny_adiff_dir, "--max-new-tokens", "6", "--grounded", "3"]
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    record = _strict_json(result.stdout.strip().splitlines()[-1])
    assert len(record["candidates"]) == 3
    assert {"text", "contradicted", "supported", "rank", "score"} <= set(record["candidates"][0])
    assert record["explanation"] == record["candidates"][record["chosen"] - 1]["text"]
    assert record["evidence"]["differences"] and isinstance(record["claims"], list)
    text = run_cli(*args, "--evidence")
    assert text.returncode == 0, text.stderr[-3000:]
    lines = text.stdout.splitlines()
    assert lines[0] == record["explanation"]
    assert f"Grounded: chose candidate {record['chosen']} of 3 (" in text.stdout
    assert "Measured differences:" in text.stdout and "Claims in the explanation" in text.stdout  # --evidence


def test_cli_refuses_grounded_zero_in_one_line(tiny_adiff_dir, wavs):
    result = run_cli("explain", *wavs, "--model", tiny_adiff_dir, "--grounded", "0")
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert "--grounded" in error and "must be at least 1, got '0'" in error
