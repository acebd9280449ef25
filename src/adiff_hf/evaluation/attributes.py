"""Attribute accuracy on controlled pairs: does the model say *which* clip is louder, muffled, reversed, ... and does
it say so at every tier? Does it call two identical recordings the same?

Pairs come from the local dataset builder (`<split>_pairs.jsonl`): a source and a copy changed in one or two known
ways, identical and near-identical pairs (a change below audibility), and pairs of two sources. The model is asked
each tier's prompt. A changed pair is right when the answer names the changed clip first ("audio 1" / "audio 2",
"first" / "second") and names every change, synonyms allowed ("quieter" / "softer", "muffled" / "dull"); a change
that reads the same from either clip may be named from the other ("audio 1 is quieter" for a louder audio 2);
an identical pair is right when the answer says there is no audible difference and names no change. The same
questions with the clips swapped or silenced give audio-blind ablations, scored against the original truth: a
model that reads the audio must beat them clearly.
"""

import json
import os
import re
import statistics
from collections import Counter, defaultdict

import numpy as np
import torch
from tqdm.auto import tqdm

from ..change_words import CHANGE_WORDS, SAME_WORDS
from ..data.changes import TWO_SIDED, describe_change, reversed_change
from ..prompts import DIFFERENCE_TIERS, TASK_PROMPTS

TIERS = DIFFERENCE_TIERS
TIER_MAX_NEW_TOKENS = {"few_words": 24, "sentence": 64, "detail": 160}
# the words that name each change (regular expressions, synonyms allowed; shared with the claim check); directions
# are told apart
CHANGE_PATTERNS = CHANGE_WORDS


def _patterns(change: str) -> list[str]:
    words = CHANGE_PATTERNS[change]
    return list(words.values()) if isinstance(words, dict) else [words]


ALL_PATTERNS = [p for change in CHANGE_PATTERNS for p in _patterns(change)]


def expected_pattern(change: dict) -> str:
    """The pattern that names one known change (`{"change": "gain", "value": -6.0}`), in its direction."""
    words = CHANGE_PATTERNS[change["change"]]
    if isinstance(words, dict):
        return words[change["value"] > (0 if change["change"] in ("gain", "pitch") else 1)]
    return words


def _plain(text: str, labels=()) -> str:
    """Lower-cased, with the pair's source labels and quoted words removed: "a hiss" or "a 'phone incoming call'
    sound" names no change."""
    text = text.lower()
    for label in labels:
        text = text.replace(label.lower(), " ")
    return re.sub(r"'[^']*'", "", text)


def named_clip(text: str, labels=()) -> int | None:
    """The clip an answer names first ("audio 1" / "audio 2"; "first" / "second"), or None."""
    match = re.search(r"audio\s*([12])|\b(first|second)\b", _plain(text, labels))
    if not match:
        return None
    return int(match.group(1)) if match.group(1) else (1 if match.group(2) == "first" else 2)


def names_change(text: str, pattern: str, labels=()) -> bool:
    """Whether `text` (the pair's source `labels` left out) uses words of `pattern`."""
    return re.search(pattern, _plain(text, labels)) is not None


def names_any_change(text: str, labels=()) -> bool:
    return any(names_change(text, p, labels) for p in ALL_PATTERNS)


def says_same(text: str, labels=()) -> bool:
    """The answer says there is no audible difference and names no change."""
    return names_change(text, SAME_WORDS, labels) and not names_any_change(text, labels)


def _changes(pair: dict) -> list[dict]:
    return pair.get("changes") or [{"change": pair["change"], "value": pair["value"]}]


def _from_the_other_clip(change: dict) -> dict:
    """`{"change": "gain", "value": 6.0}` read from the other clip: `-6.0` (see `data.changes.reversed_change`)."""
    return change | {"value": reversed_change(describe_change(change["change"], change["value"])).value}


def names_pair_change(answer: str, pair: dict, labels=()) -> tuple[bool, bool]:
    """(clip right, change right) of an answer about a changed pair.

    The changed clip must be named first with every change in its direction. Where every change reads the same
    from either clip (level, speed, tempo, pitch, reversal), what counts is the clip *and* the direction: "audio 2 is
    louder" and "audio 1 is quieter" are both right for a louder audio 2, "audio 2 is quieter" is wrong in both.
    """
    changes, clip = _changes(pair), named_clip(answer, labels)
    direct = all(names_change(answer, expected_pattern(c), labels) for c in changes)
    if not all(c["change"] in TWO_SIDED for c in changes):
        return clip == pair["changed_clip"], direct
    reverse = all(names_change(answer, expected_pattern(_from_the_other_clip(c)), labels) for c in changes)
    if (clip == pair["changed_clip"] and direct) or (clip == 3 - pair["changed_clip"] and reverse):
        return True, True
    if direct or reverse:  # a direction named, for the wrong clip
        return False, False
    return clip == pair["changed_clip"], False


def score_answers(pairs: list[dict], answers: list[str]) -> dict:
    """Clip, change and joint accuracy on changed pairs (overall and per change), identical pairs called the same,
    and the median answer length in words."""
    totals, per_change, mistakes = Counter(), defaultdict(Counter), []
    same_pairs = same_right = 0
    for pair, answer in zip(pairs, answers, strict=True):
        kind, labels = pair.get("kind", "change"), pair.get("labels", ())
        if kind in ("identical", "near_identical"):
            same = says_same(answer, labels)
            same_pairs += 1
            same_right += same
            if not same and len(mistakes) < 20:
                mistakes.append({"expected": "no audible difference", "answer": answer, "files": pair["filepath1"]})
            continue
        if kind == "sources":
            continue
        changes = _changes(pair)
        right_clip, right_change = names_pair_change(answer, pair, labels)
        name = "+".join(c["change"] for c in changes)
        for key, ok in (("clip", right_clip), ("change", right_change), ("both", right_clip and right_change)):
            totals[key] += ok
            per_change[name if len(changes) == 1 else "two changes"][key] += ok
        per_change[name if len(changes) == 1 else "two changes"]["pairs"] += 1
        totals["pairs"] += 1
        if not (right_clip and right_change) and len(mistakes) < 20:
            wanted = " and ".join(f"{c['change']} {c['value']}" for c in changes)
            mistakes.append(
                {"expected": f"audio {pair['changed_clip']}: {wanted}", "answer": answer, "files": pair["filepath1"]}
            )
    n = totals["pairs"]
    return {
        "pairs": n,
        "clip_accuracy": totals["clip"] / n if n else None,
        "change_accuracy": totals["change"] / n if n else None,
        "accuracy": totals["both"] / n if n else None,
        "same_pairs": same_pairs,
        "same_accuracy": same_right / same_pairs if same_pairs else None,
        "median_words": statistics.median(len(a.split()) for a in answers) if answers else None,
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


def _audio_input(model) -> str:
    """How the model takes audio that was computed once: clip embeddings (`audio_embeds`), or the log-mels
    themselves (`input_features`) for a model that reads its ear's heads, which see the whole clip."""
    return "input_features" if getattr(model.config, "ear_word_prefix", False) else "audio_embeds"


def _heard(model, features: torch.Tensor) -> torch.Tensor:
    features = features.to(model.device, model.dtype)
    return (features if _audio_input(model) == "input_features" else model.get_clip_embeddings(features)).cpu()


@torch.no_grad()
def pair_embeddings(model, processor, pairs: list[dict], data_dir: str, batch_size: int = 16) -> torch.Tensor:
    """What the model hears of every pair, `(pairs, 2, ...)`, computed once for all tiers and ablations (clips cut
    and featurised as at inference): the audio tower's clip embeddings, or the log-mels for a model that reads its
    ear's heads (`ear_word_prefix`)."""
    model.eval()
    embeds = []
    for start in tqdm(range(0, len(pairs), batch_size), desc="clip embeddings", unit="batch"):
        batch = pairs[start : start + batch_size]
        audio = [tuple(os.path.join(data_dir, pair[k]) for k in ("filepath1", "filepath2")) for pair in batch]
        features = processor(text=[TASK_PROMPTS["few_words"]] * len(batch), audio=audio, crop="start")
        embeds.append(_heard(model, features["input_features"]))
    return torch.cat(embeds)


@torch.no_grad()
def silence_embeddings(model, processor) -> torch.Tensor:
    """What the model hears of a pair of silent clips, `(1, 2, ...)` (as `pair_embeddings`)."""
    silence = np.zeros(processor.feature_extractor.sampling_rate, dtype=np.float32)
    features = processor(text=[TASK_PROMPTS["few_words"]], audio=[(silence, silence)], crop="start")
    return _heard(model, features["input_features"])


@torch.no_grad()
def answer_pairs(
    model,
    processor,
    embeds: torch.Tensor,
    tier: str = "few_words",
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    description: str = "",
) -> list[str]:
    """The model's greedy answers to `tier`'s prompt for pairs given as `pair_embeddings` makes them."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}.")
    max_new_tokens = max_new_tokens or TIER_MAX_NEW_TOKENS[tier]
    answers = []
    model.eval()
    for start in tqdm(range(0, len(embeds), batch_size), desc=description or tier, unit="batch"):
        batch = embeds[start : start + batch_size].to(model.device, model.dtype)
        prompts = processor.prepare_text([TASK_PROMPTS[tier]] * len(batch)).to(model.device)
        ids = model.generate(
            input_ids=prompts["input_ids"],
            max_new_tokens=max_new_tokens,
            do_sample=False,
            **{_audio_input(model): batch},
        )
        answers += processor.batch_decode(ids)
    return answers


ABLATIONS = ("clips swapped", "clips silenced")


def measure_attributes(
    model,
    processor,
    data_dir: str,
    split: str = "test",
    batch_size: int = 16,
    tiers: tuple[str, ...] = TIERS,
    ablation_tiers: tuple[str, ...] = ("few_words",),
    max_pairs: int | None = None,
) -> dict:
    """Scores of the model at each tier, and of its two audio-blind ablations (clips swapped, clips silenced) at
    `ablation_tiers`, on the changed, identical and near-identical pairs of `split` (at most `max_pairs`, in file
    order). Every answer is kept."""
    pairs = [p for p in read_pairs(data_dir, split) if p["kind"] != "sources"][:max_pairs]
    if not pairs:
        raise ValueError(f"No controlled pairs in {data_dir}/{split}_pairs.jsonl.")
    embeds = pair_embeddings(model, processor, pairs, data_dir, batch_size)
    inputs = {
        "model": (embeds, tiers),
        "clips swapped": (embeds.flip(1), ablation_tiers),
        "clips silenced": (silence_embeddings(model, processor).expand_as(embeds), ablation_tiers),
    }
    results = {}
    for name, (given, names) in inputs.items():
        results[name] = {}
        for tier in names:
            answers = answer_pairs(model, processor, given, tier, batch_size, description=f"{tier} ({name})")
            results[name][tier] = score_answers(pairs, answers) | {"answers": answers}
    return results


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def attribute_table(results: dict) -> str:
    """Markdown: one row per (audio given, tier)."""
    lines = [
        "| audio given | tier | changed pairs | clip named right | change named right | both right | "
        "identical pairs called the same | median words |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tiers in results.items():
        for tier, r in tiers.items():
            lines.append(
                f"| {name} | {tier} | {r['pairs']} | {_percent(r['clip_accuracy'])} | "
                f"{_percent(r['change_accuracy'])} | {_percent(r['accuracy'])} | "
                f"{_percent(r['same_accuracy'])} ({r['same_pairs']}) | {r['median_words']} |"
            )
    return "\n".join(lines) + "\n"


def per_change_table(results: dict) -> str:
    """Markdown: both-right per change type (rows) and tier (columns), for the model."""
    tiers = results["model"]
    changes = sorted({c for r in tiers.values() for c in r["per_change"]})
    lines = ["| change | pairs | " + " | ".join(tiers) + " |", "|---|---|" + "---|" * len(tiers)]
    for change in changes:
        cells = [_percent(r["per_change"].get(change, {}).get("accuracy")) for r in tiers.values()]
        pairs = next(r["per_change"][change]["pairs"] for r in tiers.values() if change in r["per_change"])
        lines.append(f"| {change} | {pairs} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "ABLATIONS",
    "CHANGE_PATTERNS",
    "TIERS",
    "answer_pairs",
    "attribute_table",
    "expected_pattern",
    "measure_attributes",
    "named_clip",
    "names_any_change",
    "pair_embeddings",
    "per_change_table",
    "read_pairs",
    "says_same",
    "score_answers",
]
