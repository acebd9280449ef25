"""`adiff-hf`: explain, convert, train, evaluate and write model cards from the command line.

adiff-hf explain dog.wav cat.wav --model adiff-base-hf [--tier sentence] [--json] [--plot diff.png] [--evidence]
    [--grounded 4]
adiff-hf measure take1.wav take2.wav [--check "Audio 2 is louder."] [--table] [--json]
adiff-hf localize take1.wav take2.wav [--top-k 3] [--hop 5] [--json] [--plot timeline.png] [--no-model]
adiff-hf convert --checkpoint adiff_base.pth --output adiff-base-hf
adiff-hf train --model_name_or_path adiff-base-hf --train_csv train.csv --stages 1,2,3 --output_dir runs/adiff
adiff-hf evaluate --model runs/adiff/stage3 --output_dir eval --acd_csv acd_test_*.csv --acd_audio_root ...
adiff-hf card runs/adiff/stage3 --eval_dir eval
"""

import argparse
import json
import logging
import math
import os
import sys

from ..backbones.default_model import MODEL_ENV
from ..prompts import TASK_PROMPTS

# argparse `type=` checks: a bad value stops the command at once, in one line naming the option (exit status 2)


def finite_float(text: str) -> float:
    """A number that is not NaN or infinite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def int_at_least(low: int, high: int | None = None):
    """A whole number from `low` (to `high`, when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text!r}")
        return value

    parse.__name__ = "int"
    return parse


positive_int = int_at_least(1)


def non_empty_text(text: str) -> str:
    """Text with something in it (a prompt)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give the prompt's text, or leave --prompt out for --tier's")
    return text


def writable_picture(text: str) -> str:
    """A path a picture can be written to, checked before the run (a failed save would lose its result)."""
    from .plotting import check_plot_path

    try:
        return check_plot_path(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _json_ready(value):
    """`value` with numpy / torch numbers as Python ones and NaN or infinities as `None`: strict JSON."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if not isinstance(value, (str, bytes)) and hasattr(value, "tolist"):  # numpy scalars and arrays, tensors
        return _json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(result) -> str:
    """`result` as strict JSON (no NaN or Infinity, which JSON parsers refuse)."""
    return json.dumps(_json_ready(result), allow_nan=False)


def _pair_parser(prog: str, description: str, files_optional: bool = False) -> argparse.ArgumentParser:
    """The options every model command on a pair shares: the two files (optional where another option can name
    pairs), the model, the prompt, the output form."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    nargs = "?" if files_optional else None
    parser.add_argument("audio1", nargs=nargs, help="first audio file")
    parser.add_argument("audio2", nargs=nargs, help="second audio file")
    parser.add_argument(
        "--model",
        default=None,
        help=f"model directory or Hub id (default: ${MODEL_ENV}, else adiff-mini, assembled on first use)",
    )
    parser.add_argument(
        "--tier", choices=sorted(TASK_PROMPTS), default=None, help="a difference tier or caption task (default: detail)"
    )
    parser.add_argument("--prompt", type=non_empty_text, default=None, help="a prompt of your own instead of --tier")
    parser.add_argument("--max-new-tokens", type=positive_int, default=None)
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of plain text")
    return parser


def _explain_parser() -> argparse.ArgumentParser:
    parser = _pair_parser(
        "adiff-hf explain", "Explain how two recordings differ (or every pair of a file).", files_optional=True
    )
    parser.add_argument(
        "--pairs",
        default=None,
        help="pairs to explain into --output: a CSV or JSONL (columns audio1, audio2, optional tier / prompt; paths "
        "relative to its folder), or a datasets dataset with two Audio columns (a save_to_disk or data-file folder, "
        "a .parquet)",
    )
    parser.add_argument("--split", default=None, help="with --pairs: the split of a dataset with several")
    parser.add_argument(
        "--output",
        default=None,
        help="with --pairs: the JSON Lines written (a rerun resumes it), or a .parquet / folder written as a dataset",
    )
    parser.add_argument("--batch-size", type=positive_int, default=8, help="with --pairs: pairs per generate() call")
    parser.add_argument("--num-beams", type=positive_int, default=1)
    parser.add_argument(
        "--plot", type=writable_picture, default=None, help="also draw both log-mels and their difference to this PNG"
    )
    parser.add_argument(
        "--evidence",
        action="store_true",
        help="also measure both clips, list the differences with their numbers and check the explanation's claims",
    )
    parser.add_argument(
        "--grounded",
        type=positive_int,
        default=None,
        metavar="N",
        help="grounded decoding: ask for N candidates (N beams), check each against the measured differences and "
        "print the one with the fewest contradicted claims (then the most supported; then the model's order)",
    )
    return parser


def explain_main(argv: list[str] | None = None) -> dict:
    parser = _explain_parser()
    args = parser.parse_args(argv)
    from ..backbones import load_pipeline
    from ..evidence import evidence_report
    from ..prompts import prompt_for

    if args.pairs is not None:
        if args.audio1 is not None:
            parser.error("give either two audio files or --pairs, not both")
        if args.output is None:
            parser.error("--pairs needs --output (the JSON Lines, .parquet or folder to write)")
        if args.plot is not None:
            parser.error("--plot draws one pair: leave it out with --pairs")
    elif args.audio1 is None or args.audio2 is None:
        parser.error("give two audio files (or --pairs FILE --output OUT.jsonl)")
    elif args.output is not None or args.split is not None:
        parser.error("--output and --split go with --pairs")
    prompt = prompt_for(args.tier, args.prompt)  # before the model loads: a wrong argument fails at once
    generate_kwargs = {"num_beams": args.num_beams}
    if args.max_new_tokens is not None:
        generate_kwargs["max_new_tokens"] = args.max_new_tokens
    if args.pairs is not None:
        return _explain_file(args, prompt, generate_kwargs)
    pipe = load_pipeline(args.model)
    result = {"audio1": args.audio1, "audio2": args.audio2, "prompt": prompt}
    if args.grounded is not None and args.grounded > 1:  # the pair is measured once, every candidate checked
        grounding = pipe.ground(args.audio1, args.audio2, args.grounded, prompt=prompt, **generate_kwargs)
        explanation, measured, claims = grounding.text, grounding.evidence, grounding.claims
        found = grounding.to_dict()
        result |= {"explanation": explanation} | {
            key: found[key] for key in ("evidence", "claims", "candidates", "chosen")
        }
        text = f"{explanation}\n\n{grounding.summary()}"
    else:
        explanation = pipe(args.audio1, args.audio2, prompt=prompt, **generate_kwargs)[0]["generated_text"]
        result["explanation"] = explanation
        text, measured, claims = explanation, None, None
        if args.evidence:
            measured, claims = pipe.check(explanation, args.audio1, args.audio2)
            result |= {"evidence": measured.to_dict(), "claims": [claim.to_dict() for claim in claims]}
    if args.evidence:
        text = f"{text}\n\n{evidence_report(measured, claims)}"
    if args.plot:
        from .plotting import plot_difference

        names = (os.path.basename(args.audio1), os.path.basename(args.audio2))
        features = pipe.processor.prepare_audio([(args.audio1, args.audio2)])["input_features"][0].numpy()
        result["plot"] = plot_difference(features, explanation, args.plot, pipe.processor, names, measured)
    print(json_text(result) if args.json else text)
    return result


def launched_state():
    """The `accelerate.PartialState` of a run `accelerate launch` (or torchrun) started on several processes, else
    None. Processes without a GPU talk over gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def _explain_file(args, prompt: str, generate_kwargs: dict) -> dict:
    """`explain --pairs`: every pair of the file into `--output`, then a one-line summary."""
    from ..backbones import load_pipeline
    from .batch import PairSource, explain_pairs

    source = PairSource(args.pairs, args.split)  # before the model loads
    state = launched_state()
    pipe = load_pipeline(args.model, device=None if state is None else str(state.device))
    records = explain_pairs(
        pipe,
        source,
        args.output,
        prompt=prompt if (args.tier or args.prompt) else None,
        batch_size=args.batch_size,
        evidence=args.evidence,
        grounded=args.grounded,
        state=state,
        **generate_kwargs,
    )
    result = {"pairs": args.pairs, "output": args.output, "explained": len(records)}
    if state is None or state.is_main_process:
        print(json_text(result) if args.json else f"Explained {len(records)} pairs into {args.output}.")
    return result


def measure_main(argv: list[str] | None = None) -> dict:
    from ..evidence import check_claims, compare_clips, evidence_report

    parser = argparse.ArgumentParser(
        prog="adiff-hf measure",
        description="Measure two recordings (no model): their differences above just-noticeable thresholds, with "
        "numbers; optionally check a text's claims against them.",
    )
    parser.add_argument("audio1", help="first audio file")
    parser.add_argument("audio2", help="second audio file")
    parser.add_argument("--check", default=None, help="an explanation whose claims to check (any model's, or yours)")
    parser.add_argument("--table", action="store_true", help="also print every measure of both clips")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of plain text")
    args = parser.parse_args(argv)
    measured = compare_clips(args.audio1, args.audio2, progress=not args.json)
    claims = None if args.check is None else check_claims(args.check, measured)
    result = {"audio1": args.audio1, "audio2": args.audio2, "evidence": measured.to_dict()}
    if claims is not None:
        result["claims"] = [claim.to_dict() for claim in claims]
    if args.json:
        print(json_text(result))
    else:
        print(evidence_report(measured, claims))
        if args.table:
            print("\n" + measured.table_markdown())
    return result


def localize_main(argv: list[str] | None = None) -> dict:
    from ..localization import localize_differences

    parser = _pair_parser(
        "adiff-hf localize",
        "Find where two recordings of any length differ: align them, score aligned windows by their band levels and "
        "by what the model hears, merge the differing ones into ranked regions and explain the top ones.",
    )
    parser.add_argument("--no-model", action="store_true", help="band levels only: no model, no explanations")
    parser.add_argument("--top-k", type=positive_int, default=3, help="regions to report and explain (default: 3)")
    parser.add_argument(
        "--window", type=positive_float, default=None, help="window seconds (default: what the model hears)"
    )
    parser.add_argument(
        "--hop", type=positive_float, default=None, help="seconds between windows (default: half a window)"
    )
    parser.add_argument(
        "--offset", type=finite_float, default=None, help="a known offset (audio 2's time of audio 1's 0 s)"
    )
    parser.add_argument("--evidence", action="store_true", help="also measure each region's two spans")
    parser.add_argument(
        "--plot", type=writable_picture, default=None, help="draw a timeline with the regions shaded to this PNG"
    )
    args = parser.parse_args(argv)
    generate_kwargs = {} if args.max_new_tokens is None else {"max_new_tokens": args.max_new_tokens}
    options = {
        "window_seconds": args.window,
        "hop_seconds": args.hop,
        "top_k": args.top_k,
        "offset_seconds": args.offset,
        "progress": not args.json,
    }
    if args.no_model:  # the band levels alone: nothing is explained
        found = localize_differences(args.audio1, args.audio2, evidence=args.evidence, **options)
    else:
        from ..backbones import load_pipeline
        from ..prompts import prompt_for

        prompt = prompt_for(args.tier, args.prompt)
        found = load_pipeline(args.model).localize(
            args.audio1, args.audio2, return_evidence=args.evidence, prompt=prompt, **options, **generate_kwargs
        )
    result = found.to_dict()
    if args.plot:
        from .plotting import plot_timeline

        names = (os.path.basename(args.audio1), os.path.basename(args.audio2))
        result["plot"] = plot_timeline(found, args.plot, names)
    print(json_text(result) if args.json else found.report())
    return result


def convert_main(argv: list[str] | None = None) -> None:
    import torch

    from ..conversion import convert_checkpoint

    parser = argparse.ArgumentParser(
        prog="adiff-hf convert", description="Convert the original ADIFF checkpoint into a Hugging Face directory."
    )
    parser.add_argument("--checkpoint", required=True, help="the release's .pth state dict")
    parser.add_argument("--output", required=True, help="directory to write the converted model and processor to")
    parser.add_argument("--text-config", default=None, help="GPT-2 config.json for what the tensors cannot tell")
    parser.add_argument("--tokenizer", default="gpt2", help="GPT-2 tokenizer directory or Hub id (default: gpt2)")
    parser.add_argument("--mapper-heads", type=int, default=8, help="attention heads of the mappers (release: 8)")
    parser.add_argument("--cross-heads", type=int, default=4, help="attention heads of the cross-projection (4)")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    args = parser.parse_args(argv)
    convert_checkpoint(
        args.checkpoint,
        args.output,
        text_config=args.text_config,
        tokenizer=args.tokenizer,
        mapper_num_heads=args.mapper_heads,
        cross_num_heads=args.cross_heads,
        dtype=getattr(torch, args.dtype),
    )


def train_main(argv: list[str] | None = None, callbacks: list | None = None) -> list[str]:
    from transformers import HfArgumentParser

    from ..training import ADiffTrainingArguments, DataArguments, ModelArguments, StageArguments, run_stages

    parser = HfArgumentParser((ModelArguments, DataArguments, StageArguments, ADiffTrainingArguments))
    parser.prog = "adiff-hf train"
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, stage_args, training_args = parser.parse_json_file(argv[0])
    else:
        model_args, data_args, stage_args, training_args = parser.parse_args_into_dataclasses(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if training_args.should_log else logging.WARNING,
    )
    return run_stages(model_args, data_args, stage_args, training_args, callbacks=callbacks)


def evaluate_main(argv: list[str] | None = None) -> dict:
    from ..evaluation import EvaluationSet, evaluate_model

    parser = argparse.ArgumentParser(
        prog="adiff-hf evaluate",
        description="Evaluate a model on the ACD/CLD test splits (tiers 1-3) with coco-caption's metrics; writes "
        "predictions.jsonl (resumable), metrics.json, leaderboard.md, model_index.yaml and .eval_results/.",
    )
    parser.add_argument("--model", required=True, help="a model directory or Hub id (any from_pretrained path)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--model_name", default=None, help="the leaderboard row label (default: the model's name)")
    for name in ("acd", "cld"):
        parser.add_argument(f"--{name}_csv", nargs="+", default=[], help=f"{name.upper()} test CSVs (any tiers)")
        parser.add_argument(f"--{name}_audio_root", default=None, help="where those CSVs' file paths start")
        parser.add_argument(f"--{name}_hub_id", default=None, help="the dataset's Hub id for model-index")
    parser.add_argument("--batch_size", type=positive_int, default=16)
    parser.add_argument(
        "--max_new_tokens", type=positive_int, default=None, help="default: the model's (300 for ADIFF)"
    )
    parser.add_argument("--missing_audio", choices=["error", "skip"], default="error")
    parser.add_argument("--max_rows", type=positive_int, default=None, help="at most this many rows per dataset")
    parser.add_argument(
        "--bootstrap_samples",
        type=int_at_least(0, 100_000),
        default=500,
        help="for BLEU-4 / CIDEr-D intervals (0: none)",
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    sets = [
        EvaluationSet(
            name.upper(),
            getattr(args, f"{name}_csv"),
            getattr(args, f"{name}_audio_root"),
            getattr(args, f"{name}_hub_id"),
        )
        for name in ("cld", "acd")
        if getattr(args, f"{name}_csv")
    ]
    if not sets:
        parser.error("give --acd_csv and/or --cld_csv")
    generate_kwargs = {} if args.max_new_tokens is None else {"max_new_tokens": args.max_new_tokens}
    return evaluate_model(
        args.model,
        sets,
        args.output_dir,
        model_name=args.model_name,
        batch_size=args.batch_size,
        missing_audio=args.missing_audio,
        max_rows=args.max_rows,
        bootstrap_samples=args.bootstrap_samples,
        device=args.device,
        dtype=args.dtype,
        state=launched_state(),
        **generate_kwargs,
    )


def assemble_main(argv: list[str] | None = None) -> str:
    from ..backbones.default_model import assemble_default_model, default_model_dir

    parser = argparse.ArgumentParser(
        prog="adiff-hf assemble",
        description="Assemble the default model (adiff-mini) from the installed PyPI backbones and the shipped head.",
    )
    parser.add_argument("--output", default=None, help=f"default: {default_model_dir()}")
    parser.add_argument("--force", action="store_true", help="assemble again even if it exists")
    args = parser.parse_args(argv)
    path = assemble_default_model(args.output, force=args.force)
    print(path)
    return path


def card_main(argv: list[str] | None = None) -> str:
    from .model_card import card_main as run

    return run(argv)


COMMANDS = {
    "explain": explain_main,
    "measure": measure_main,
    "localize": localize_main,
    "assemble": assemble_main,
    "convert": convert_main,
    "train": train_main,
    "evaluate": evaluate_main,
    "card": card_main,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script passes it to `sys.exit`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    usage = f"{__doc__.strip()}\n\ncommands: {', '.join(COMMANDS)}; `adiff-hf COMMAND --help` for each one's options."
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    if argv[0] not in COMMANDS:
        print(f"adiff-hf: unknown command {argv[0]!r}\n\n{usage}", file=sys.stderr)
        sys.exit(2)
    try:
        COMMANDS[argv[0]](argv[1:])
    except (FileNotFoundError, ImportError, ValueError, RuntimeError) as error:
        if os.environ.get("ADIFF_HF_DEBUG", "").strip().lower() in ("1", "true", "yes"):
            raise
        # bad input is reported in one line that names the file or argument (ADIFF_HF_DEBUG=1 shows a traceback)
        print(f"adiff-hf {argv[0]}: error: {error}", file=sys.stderr)
        return 1
    return 0


__all__ = ["main"]
