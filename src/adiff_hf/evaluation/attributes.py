"""Attribute accuracy on controlled pairs: does the model say *which* clip is louder, faster, muffled, ...?

Pairs come from the local dataset builder (`<split>_pairs.jsonl`: a source and a copy changed in one known way).
The model is asked the few-words prompt; its answer must name the changed clip ("audio 1" / "audio 2") and the
change ("louder", "slower", ...). The same questions with the clips swapped or silenced give an audio-blind
ablation, scored against the original truth: a model that reads the audio must beat it clearly.
"""

import json
import os
import re
from collections import Counter, defaultdict

import numpy as np
import torch
from tqdm.auto import tqdm

from ..prompts import CSV_TIER_INPUTS

QUESTION = CSV_TIER_INPUTS["few_words"]  # the prompt adiff-mini was measured with
# the words that name each change; opposite directions are told apart
CHANGE_WORDS = {
    "gain": {True: "louder", False: "quieter"},
    "speed": {True: "faster", False: "slower"},
    "reverb": "reverberant",
    "lowpass": "muffled",
    "highpass": "thin",
    "noise": "noisier",
    "clipping": "distorted",
    "reverse": "reversed",
    "gap": "interrupted",
}
ALL_WORDS = {w for v in CHANGE_WORDS.values() for w in (v.values() if isinstance(v, dict) else [v])}


def expected(pair: dict) -> tuple[int, str]:
    """(changed clip, the word for its change) of a controlled pair."""
    words = CHANGE_WORDS[pair["change"]]
    if isinstance(words, dict):
        up = pair["value"] > (0 if pair["change"] == "gain" else 1)
        return pair["changed_clip"], words[up]
    return pair["changed_clip"], words


def parse_answer(text: str) -> tuple[int | None, set[str]]:
    """The clip an answer names first ("audio 1" / "audio 2"; "first"/"second") and the change words it uses."""
    lowered = text.lower()
    match = re.search(r"audio\s*([12])|\b(first|second)\b", lowered)
    clip = None
    if match:
        clip = int(match.group(1)) if match.group(1) else (1 if match.group(2) == "first" else 2)
    return clip, {w for w in ALL_WORDS if re.search(rf"\b{w}", lowered)}


def score_answers(pairs: list[dict], answers: list[str]) -> dict:
    """Clip, change and joint accuracy of `answers` for controlled `pairs`, overall and per change."""
    totals, per_change, mistakes = Counter(), defaultdict(Counter), []
    for pair, answer in zip(pairs, answers, strict=True):
        clip, word = expected(pair)
        named, words = parse_answer(answer)
        right_clip, right_word = named == clip, word in words
        for key, ok in (("clip", right_clip), ("change", right_word), ("both", right_clip and right_word)):
            totals[key] += ok
            per_change[pair["change"]][key] += ok
        per_change[pair["change"]]["pairs"] += 1
        if not (right_clip and right_word) and len(mistakes) < 20:
            mistakes.append({"expected": f"audio {clip} {word}", "answer": answer, "files": pair["filepath1"]})
    n = len(pairs)
    return {
        "pairs": n,
        "clip_accuracy": totals["clip"] / n if n else None,
        "change_accuracy": totals["change"] / n if n else None,
        "accuracy": totals["both"] / n if n else None,
        "per_change": {
            change: {"pairs": c["pairs"], "accuracy": c["both"] / c["pairs"]}
            for change, c in sorted(per_change.items())
        },
        "mistakes": mistakes,
    }


def read_pairs(data_dir: str | os.PathLike, split: str = "test") -> list[dict]:
    path = os.path.join(data_dir, f"{split}_pairs.jsonl")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: build the data with scripts/build_local_difference_data.py.")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@torch.no_grad()
def answer_controlled_pairs(
    model, processor, pairs: list[dict], data_dir: str, ablation: str | None = None, batch_size: int = 16
) -> list[str]:
    """The model's few-words answers; `ablation="swap"` swaps the clips, `"silence"` replaces both with silence."""
    if ablation not in (None, "swap", "silence"):
        raise ValueError(f"ablation must be None, 'swap' or 'silence', got {ablation!r}.")
    answers = []
    silence = np.zeros(processor.feature_extractor.sampling_rate, dtype=np.float32)
    model.eval()
    for start in tqdm(range(0, len(pairs), batch_size), desc=f"attributes ({ablation or 'audio'})", unit="batch"):
        batch = pairs[start : start + batch_size]
        audio = []
        for pair in batch:
            one, two = (os.path.join(data_dir, pair[k]) for k in ("filepath1", "filepath2"))
            audio.append({"swap": (two, one), "silence": (silence, silence)}.get(ablation, (one, two)))
        inputs = processor(text=[QUESTION] * len(batch), audio=audio, crop="start").to(model.device)
        inputs["input_features"] = inputs["input_features"].to(model.dtype)
        answers += processor.batch_decode(model.generate(**inputs, max_new_tokens=24, do_sample=False))
    return answers


def measure_attributes(model, processor, data_dir: str, split: str = "test", batch_size: int = 16) -> dict:
    """Attribute accuracy of the model and of its two audio-blind ablations on the controlled pairs of `split`."""
    pairs = [p for p in read_pairs(data_dir, split) if p["kind"] == "change"]
    if not pairs:
        raise ValueError(f"No controlled (changed-copy) pairs in {data_dir}/{split}_pairs.jsonl.")
    results = {}
    for name, ablation in (("model", None), ("clips swapped", "swap"), ("clips silenced", "silence")):
        answers = answer_controlled_pairs(model, processor, pairs, data_dir, ablation, batch_size)
        results[name] = score_answers(pairs, answers)
    return results


def attribute_table(results: dict) -> str:
    lines = ["| audio given | pairs | clip named right | change named right | both right |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['pairs']} | {100 * r['clip_accuracy']:.1f}% | {100 * r['change_accuracy']:.1f}% | "
            f"{100 * r['accuracy']:.1f}% |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["answer_controlled_pairs", "attribute_table", "measure_attributes", "parse_answer", "score_answers"]
