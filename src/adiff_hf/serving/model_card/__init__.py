"""Model cards for ADIFF models: the Hub `README.md` of a model directory, written from `template.md`.

The template ships inside the package, so `adiff-hf card` works from any install (a wheel included).
"""

import argparse
import json
import os
from pathlib import Path

import yaml
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from ...configuration_adiff import ADiffConfig

TEMPLATE = Path(__file__).with_name("template.md")


def _parameters(model_dir: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(path, framework="np") as f:
            for key in f.keys():
                count = 1
                for size in f.get_slice(key).get_shape():
                    count *= size
                total += count
    return total


def _training_section(model_dir: Path) -> str:
    summaries = [model_dir / "stage_summary.json"] + sorted(model_dir.parent.glob("stage[123]/stage_summary.json"))
    rows, seen = [], set()
    for path in summaries:
        if not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        s = json.loads(path.read_text())
        tasks = ", ".join(f"{name} {count}" for name, count in s.get("tasks", {}).items())
        rows.append(
            f"| {s['stage']} | {', '.join(s['trainable_components'])} | {s['trainable_parameters']:,} | "
            f"{s['learning_rate']:g} | {s['global_step']} | {tasks} | {s.get('last_logged_loss') or float('nan'):.3f} |"
        )
    if not rows:
        return (
            "Trained with ADIFF's three-stage recipe (`adiff-hf train`): stage 1 aligns the projection, mappers and "
            "cross-projection with the audio encoder and language model frozen; stage 2 trains them on all three "
            "tiers; stage 3 fine-tunes the language model too. This directory carries no training log."
        )
    header = [
        "Trained with `adiff-hf train` (ADIFF's three-stage recipe on `Trainer`):",
        "",
        "| stage | trained | parameters | lr | steps | examples | final loss |",
        "|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + sorted(rows))


def build_model_card(
    model_dir: str | os.PathLike,
    eval_dir: str | os.PathLike | None = None,
    model_name: str | None = None,
    repo_id: str | None = None,
    license: str = "mit",
    datasets: list[str] | None = None,
    description: str = "",
) -> ModelCard:
    """A `huggingface_hub.ModelCard` for the model saved in `model_dir`.

    Args:
        model_dir: a saved ADIFF directory (config, weights, processor).
        eval_dir: the output of `adiff-hf evaluate` (`model_index.yaml`, `leaderboard.md`); its results become the
            card's `model-index` and evaluation section.
        model_name / repo_id: the card's title and the id used in the usage snippets (default: the folder name).
        license, datasets, description: metadata and a paragraph of your own.
    """
    model_dir = Path(model_dir)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a saved model directory: {config_path} is missing.")
    config = json.loads(config_path.read_text())
    if config.get("model_type") != "adiff":
        raise ValueError(f"{config_path} describes a {config.get('model_type')!r} model, not an ADIFF one.")
    model_name = model_name or model_dir.resolve().name
    eval_results, evaluation = None, "Not evaluated yet: `adiff-hf evaluate --model <dir> ...` writes the results."
    if eval_dir is not None:
        index_path, board_path = Path(eval_dir) / "model_index.yaml", Path(eval_dir) / "leaderboard.md"
        if not index_path.is_file():
            raise FileNotFoundError(f"{index_path} is missing: point eval_dir at the output of `adiff-hf evaluate`.")
        _, eval_results = model_index_to_eval_results(yaml.safe_load(index_path.read_text())["model-index"])
        for result in eval_results:
            result.source_name, result.source_url = None, None
        evaluation = board_path.read_text() if board_path.is_file() else ""
    text = config.get("text_config", {})
    card_data = ModelCardData(
        language="en",
        license=license,
        library_name="transformers",
        pipeline_tag="audio-text-to-text",
        tags=["audio", "audio-difference", "adiff", "audio-captioning", "custom_code"],
        datasets=datasets or None,
        model_name=model_name,
        eval_results=eval_results,
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        model_name=model_name,
        repo_id=repo_id or model_name,
        model_description=description,
        num_prefix_tokens=ADiffConfig.from_dict(config).num_prefix_tokens,
        text_model=text.get("model_type", "gpt2"),
        text_hidden=text.get("n_embd", text.get("hidden_size", "?")),
        num_parameters=f"{_parameters(model_dir):,}",
        training=_training_section(model_dir),
        evaluation=evaluation,
    )


def write_model_card(model_dir: str | os.PathLike, output: str | os.PathLike | None = None, **kwargs) -> str:
    """Write the card to `output` (default `model_dir/README.md`); keyword arguments as in `build_model_card`."""
    output = os.fspath(output or Path(model_dir) / "README.md")
    build_model_card(model_dir, **kwargs).save(output)
    return output


def card_main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="adiff-hf card", description="Write the Hub README.md of a model.")
    parser.add_argument("model_dir")
    parser.add_argument("--eval_dir", default=None, help="output directory of `adiff-hf evaluate`")
    parser.add_argument("--model_name", default=None)
    parser.add_argument("--repo_id", default=None, help="Hub id shown in the usage snippets")
    parser.add_argument("--license", default="mit")
    parser.add_argument("--dataset", action="append", default=[], help="Hub id of a training dataset (repeatable)")
    parser.add_argument("--description", default="")
    parser.add_argument("--output", default=None, help="default: MODEL_DIR/README.md")
    args = parser.parse_args(argv)
    path = write_model_card(
        args.model_dir,
        args.output,
        eval_dir=args.eval_dir,
        model_name=args.model_name,
        repo_id=args.repo_id,
        license=args.license,
        datasets=args.dataset,
        description=args.description,
    )
    print(path)
    return path


__all__ = ["TEMPLATE", "build_model_card", "card_main", "write_model_card"]
