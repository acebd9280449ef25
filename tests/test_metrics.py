"""The `evaluate` module reproduces coco-caption (pycocoevalcap 1.2) on the fixture's 500 items."""

import json
import logging
import sys

import numpy as np
import pytest

import adiff_hf.evaluation.metrics
from conftest import FIXTURES

PARITY = FIXTURES / "metrics_parity"
NAMES = {
    "BLEU_1": "bleu_1",
    "BLEU_2": "bleu_2",
    "BLEU_3": "bleu_3",
    "BLEU_4": "bleu_4",
    "METEOR": "meteor",
    "ROUGE_L": "rouge_l",
    "CIDEr_D": "cider_d",
}


@pytest.fixture(scope="module")
def metric():
    return adiff_hf.evaluation.metrics.load()


@pytest.fixture(scope="module")
def parity(metric):
    items = json.loads((PARITY / "parity_sample.json").read_text())["items"]
    reference = json.loads((PARITY / "parity_reference.json").read_text())
    items = sorted(items, key=lambda item: item["id"])  # the reference's per-item lists are in id order
    result = metric.compute(
        predictions=[i["prediction"] for i in items], references=[i["references"] for i in items], per_item=True
    )
    return result, reference


@pytest.mark.parametrize("coco_name", list(NAMES))
def test_corpus_and_per_item_scores_match_coco_caption(parity, coco_name):
    result, reference = parity
    tolerance = 1e-4 if coco_name == "METEOR" else 1e-6
    name = NAMES[coco_name]
    assert abs(result[name] - reference["corpus"][coco_name]) < tolerance
    ours, theirs = np.asarray(result["per_item"][name]), np.asarray(reference["per_item"][coco_name])
    assert ours.shape == theirs.shape == (reference["n_items"],)
    assert np.abs(ours - theirs).max() < tolerance


def test_spice_is_unavailable_not_zero_without_corenlp(parity, metric, monkeypatch, caplog):
    result, _ = parity
    module = sys.modules[type(metric).__module__]
    if module.spice_available():  # a machine with the CoreNLP jars computes it: then it must be a real score
        assert 0 < result["spice"] <= 1 and result["spider"] == pytest.approx((result["cider_d"] + result["spice"]) / 2)
    else:
        assert result["spice"] is None and result["spider"] is None
    monkeypatch.setattr(module, "spice_available", lambda: False)
    with caplog.at_level(logging.WARNING):
        small = metric.compute(predictions=["a dog barks"], references=[["a dog is barking"]])
    assert small["spice"] is None and small["spider"] is None
    assert "SPICE and SPIDEr are unavailable" in caplog.text and "stanford-corenlp-3.6.0.jar" in caplog.text
    with pytest.raises(RuntimeError, match="SPICE needs stanford-corenlp-3.6.0.jar"):
        metric.compute(predictions=["a dog barks"], references=[["a dog is barking"]], spice=True)


def test_missing_java_is_a_clear_error(metric, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `java` anywhere on it
    with pytest.raises(RuntimeError, match="caption_metrics needs Java"):
        metric.compute(predictions=["a dog barks"], references=[["a dog is barking"]])


def test_bootstrap_intervals_surround_the_score(metric):
    items = json.loads((PARITY / "parity_sample.json").read_text())["items"][:120]
    result = metric.compute(
        predictions=[i["prediction"] for i in items],
        references=[i["references"] for i in items],
        bootstrap_samples=200,
    )
    for name in ("bleu_4", "cider_d"):
        low, high = result[f"{name}_ci"]
        assert 0 <= low < result[name] < high  # a real interval around the corpus score, not a point


def test_bad_input_is_named(metric):
    with pytest.raises(ValueError, match=r"references\[1\] is empty"):
        metric.compute(predictions=["a", "b"], references=[["a"], []])
