"""`adiff-hf evaluate` end to end on a tiny model and generated audio: predictions, metrics, leaderboard."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results

from adiff_hf.data import make_toy_difference_data
from adiff_hf.evaluation import PUBLISHED_ADIFF, leaderboard_markdown, read_predictions
from conftest import REPO, make_tiny_adiff

EVALUATE = ["-m", "adiff_hf", "evaluate"]  # = adiff-hf evaluate


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    toy = make_toy_difference_data(root / "toy", num_clips=12, pairs_per_split={"test": 3, "validation": 2})
    return root, toy, make_tiny_adiff(root / "model")


def _evaluate(model, out, *datasets):
    args = [sys.executable, *EVALUATE, "--model", model, "--output_dir", out, "--model_name", "tiny-adiff", *datasets]
    args += ["--max_new_tokens", "8", "--batch_size", "4", "--bootstrap_samples", "20"]
    result = subprocess.run([str(a) for a in args], check=False, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def evaluated(setup):
    root, toy, model = setup
    out = root / "eval"
    _evaluate(model, out, "--acd_csv", toy["test"], "--cld_csv", toy["validation"])
    return out, toy


def test_predictions_cover_every_row(evaluated):
    out, toy = evaluated
    records = read_predictions(out / "predictions.jsonl")
    rows = {name: list(csv.DictReader(open(toy[split]))) for name, split in (("ACD", "test"), ("CLD", "validation"))}
    assert len(records) == len(rows["ACD"]) + len(rows["CLD"]) == 15
    assert len({r["key"] for r in records}) == 15
    for record in records:
        assert isinstance(record["prediction"], str) and record["tier"] in ("few_words", "sentence", "detail")
        assert record["reference"] in {row["answer"] for row in rows[record["dataset"]]}


def test_metrics_leaderboard_and_model_index(evaluated):
    out, _ = evaluated
    saved = json.loads((out / "metrics.json").read_text())
    results = saved["results"]
    assert set(results) == {"ACD-1", "ACD-2", "ACD-3", "CLD-1", "CLD-2", "CLD-3"}
    for scores in results.values():
        for name in ("bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d"):
            assert 0 <= scores[name] <= (10 if name == "cider_d" else 1)
        assert scores["spice"] is None and scores["spider"] is None  # no CoreNLP here: unavailable, not 0
        assert len(scores["bleu_4_ci"]) == 2 and scores["bleu_4_ci"][0] <= scores["bleu_4_ci"][1]
    assert "_evaluate_version" in saved  # written by evaluate.save

    board = (out / "leaderboard.md").read_text()
    header = board.splitlines()[0]
    assert header == "| model | metric | CLD-1 | CLD-2 | CLD-3 | ACD-1 | ACD-2 | ACD-3 |"
    assert "| ADIFF (published) | BLEU-4 | 15.25 | 24.50 | 17.08 | 14.76 | 23.43 | 16.91 |" in board
    assert "| ADIFF (published) | SPICE | 11.85 | 23.15 | 16.67 | 12.68 | 22.16 | 17.07 |" in board
    meteor_row = next(line for line in board.splitlines() if line.startswith("| tiny-adiff | METEOR |"))
    assert f"{100 * results['CLD-1']['meteor']:.2f}" == meteor_row.split("|")[3].strip()

    front_matter = yaml.safe_load((out / "model_index.yaml").read_text())
    name, parsed = model_index_to_eval_results(front_matter["model-index"])
    assert name == "tiny-adiff"
    bleu = {(r.dataset_name, r.metric_type): r.metric_value for r in parsed}
    assert bleu[("ACD tier 2", "bleu_4")] == pytest.approx(100 * results["ACD-2"]["bleu_4"], abs=1e-4)
    assert not any(r.metric_type == "spice" for r in parsed)  # unavailable metrics are not published
    eval_files = sorted((out / ".eval_results").glob("*.yaml"))
    assert len(eval_files) == 6 * 4  # 6 splits x BLEU-4, METEOR, ROUGE-L, CIDEr-D
    entry = yaml.safe_load((out / ".eval_results" / "acd-1_cider_d.yaml").read_text())[0]
    assert entry["dataset"] == {"id": "ACD", "task_id": "tier1_cider_d"}
    assert entry["value"] == pytest.approx(100 * results["ACD-1"]["cider_d"], abs=1e-4)


def test_restart_skips_finished_rows(setup, evaluated):
    root, toy, model = setup
    out, _ = evaluated
    lines = [line for line in (out / "predictions.jsonl").read_text().splitlines() if '"dataset": "ACD"' in line]
    resumed = root / "resumed"
    resumed.mkdir()
    # a run killed mid-way: 4 rows written, the 5th cut short
    (resumed / "predictions.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    result = _evaluate(model, resumed, "--acd_csv", toy["test"])
    assert "ACD: 4 of 9 rows already predicted" in result.stderr and "line 5 is incomplete" in result.stderr
    again = read_predictions(resumed / "predictions.jsonl")
    assert [json.loads(line) for line in lines[:4]] == again[:4]  # finished rows are kept, not redone
    assert sorted(r["key"] for r in again) == sorted(json.loads(line)["key"] for line in lines)
    assert {r["key"]: r["prediction"] for r in again} == {
        r["key"]: r["prediction"] for r in map(json.loads, lines)
    }  # the rows predicted again come out as in the uninterrupted run
    first = json.loads((out / "metrics.json").read_text())["results"]
    second = json.loads((resumed / "metrics.json").read_text())["results"]
    assert {k: v["bleu_4"] for k, v in second.items()} == {k: first[k]["bleu_4"] for k in ("ACD-1", "ACD-2", "ACD-3")}


def test_leaderboard_without_reference_row():
    board = leaderboard_markdown({"ACD-1": {"bleu_4": 0.1234, "spice": None}}, "m", reference=None)
    assert "published" not in board and "| m | BLEU-4 | 12.34 |" in board and "| m | SPICE | – |" in board
    assert set(PUBLISHED_ADIFF) == {"CLD-1", "CLD-2", "CLD-3", "ACD-1", "ACD-2", "ACD-3"}


def test_missing_audio_names_the_file(setup, tmp_path):
    _, toy, model = setup
    rows = list(csv.DictReader(open(toy["test"])))
    rows[0]["filepath1"] = "audio/absent.wav"
    broken = Path(toy["test"]).parent / "broken.csv"
    with open(broken, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    args = [sys.executable, *EVALUATE, "--model", model, "--output_dir", tmp_path, "--acd_csv", broken]
    result = subprocess.run([str(a) for a in args], check=False, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode != 0 and "absent.wav" in result.stderr


def test_two_processes_predict_and_score_as_one(setup, evaluated, tmp_path):
    """`accelerate launch --num_processes 2 -m adiff_hf evaluate ...`: each process predicts a share of the rows,
    the main process folds them and scores; predictions and metrics are one process's."""
    pytest.importorskip("accelerate")
    root, toy, model = setup
    out, _ = evaluated
    two = tmp_path / "two"
    args = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    args += [*EVALUATE, "--model", model, "--output_dir", two, "--model_name", "tiny-adiff"]
    args += ["--acd_csv", toy["test"], "--cld_csv", toy["validation"]]
    args += ["--max_new_tokens", "8", "--batch_size", "4", "--bootstrap_samples", "20"]
    result = subprocess.run([str(a) for a in args], check=False, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (two / "predictions.jsonl").read_text() == (out / "predictions.jsonl").read_text()
    assert not list(two.glob("predictions.jsonl.part*"))
    first = json.loads((out / "metrics.json").read_text())["results"]
    second = json.loads((two / "metrics.json").read_text())["results"]
    assert second == first
