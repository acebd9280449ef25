"""The Hub repository layout, written locally (what push_adiff_to_hub uploads) and loaded back in a fresh process."""

import json
import subprocess
import sys

import transformers
import yaml
from huggingface_hub import ModelCard

import adiff_hf
import adiff_hf.evaluation
from adiff_hf.serving.hub import save_hub_layout


def test_hub_layout_round_trip(tiny_adiff_dir, clips, tmp_path):
    model = adiff_hf.ADiffForConditionalGeneration.from_pretrained(tiny_adiff_dir)
    processor = adiff_hf.ADiffProcessor.from_pretrained(tiny_adiff_dir)
    eval_dir = tmp_path / "eval"
    (eval_dir / ".eval_results").mkdir(parents=True)
    results = {"ACD-1": {"bleu_4": 0.1, "meteor": 0.2, "rouge_l": 0.3, "cider_d": 0.4, "spice": None}}
    (eval_dir / "model_index.yaml").write_text(adiff_hf.evaluation.model_index_yaml(results, "tiny"))
    (eval_dir / "leaderboard.md").write_text(adiff_hf.evaluation.leaderboard_markdown(results, "tiny"))
    adiff_hf.evaluation.write_eval_results_dir(results, eval_dir / ".eval_results")

    repo = tmp_path / "repo"
    files = save_hub_layout(model, processor, repo, eval_dir=eval_dir, repo_id="someone/adiff-tiny")
    expected = {
        "README.md",
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "processor_config.json",
        "chat_template.jinja",
        "tokenizer.json",
        "tokenizer_config.json",
        "modeling_adiff.py",
        "configuration_adiff.py",
        "processing_adiff.py",
        "feature_extraction_adiff.py",
        "pipeline_adiff.py",
        "audio_io.py",
        "prompts.py",
        ".eval_results/acd-1_bleu_4.yaml",
    }
    assert expected <= set(files), expected - set(files)
    config = json.loads((repo / "config.json").read_text())
    assert config["custom_pipelines"]["audio-difference"]["impl"] == "pipeline_adiff.AudioDifferencePipeline"
    assert config["auto_map"]["AutoModelForMultimodalLM"] == "modeling_adiff.ADiffForConditionalGeneration"
    card = ModelCard.load(repo / "README.md")
    assert [r.metric_value for r in card.data.eval_results if r.metric_type == "bleu_4"] == [10.0]
    assert yaml.safe_load((repo / ".eval_results" / "acd-1_bleu_4.yaml").read_text())[0]["value"] == 10.0

    pipe = transformers.pipeline("audio-difference", model=model, processor=processor)
    expected_text = pipe(str(clips["tone"]), str(clips["noise"]), tier="detail", max_new_tokens=6)[0]["generated_text"]
    code = (
        "import sys; sys.modules['adiff_hf'] = None\n"
        "import transformers\n"
        f"pipe = transformers.pipeline(model={str(repo)!r}, trust_remote_code=True)\n"
        f"print(pipe({str(clips['tone'])!r}, {str(clips['noise'])!r}, max_new_tokens=6)[0]['generated_text'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == expected_text.strip()
