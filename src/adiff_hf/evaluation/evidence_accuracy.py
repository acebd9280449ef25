"""How good is the measured evidence? Three measurements, on the local builder's controlled pairs.

- `evidence_accuracy`: how often the evidence alone names the changed clip and the change, per change type
  (louder / quieter for a gain change, faster / slower for tempo, ...), and how often identical and near-identical
  pairs get no finding at all.
- `grounding_accuracy`: the claim check on texts whose truth is known: right texts (the builder's own answers, or a
  model's answers scored right) should be flagged rarely; wrong texts (the same answers with the clips swapped, or a
  model's answers scored wrong) should be flagged (contradicted) nearly always.
- `evidence_cost`: seconds to measure a pair, by clip length.
"""

import csv
import os
import re
import time
from collections import Counter, defaultdict

import numpy as np
from tqdm.auto import tqdm

from ..evidence import CONTRADICTED, NOT_CHECKABLE, check_claims, compare_clips
from .attributes import read_pairs

# the property whose measured sign names each change, and the direction of the changed clip (None: the change's sign)
CHANGE_PROPERTY = {
    "gain": ("loudness", None),
    "tempo": ("speed", None),
    "speed": ("speed", None),
    "pitch": ("pitch", None),
    "lowpass": ("treble", -1),
    "highpass": ("bass", -1),
    "noise": ("noise", 1),
    "clipping": ("clipping", 1),
    "gap": ("gap", 1),
    "reverb": ("reverb", 1),
    "echo": ("echo", 1),
    "distortion": ("distortion", 1),
    "compression": ("compression", 1),
    "bitcrush": ("bitcrush", 1),
    "codec": ("codec", 1),
    "reverse": ("reverse", 0),  # a relation: found in both clips
}
GOAL_CHANGES = tuple(CHANGE_PROPERTY)


def expected_sign(change: str, value: float, changed_clip: int) -> int | None:
    """The sign (audio 2 against audio 1) the evidence should measure for a known change, or None when no measure
    names it."""
    if change not in CHANGE_PROPERTY:
        return None
    _, direction = CHANGE_PROPERTY[change]
    if direction is None:
        direction = (1 if value > 1 else -1) if change in ("tempo", "speed") else (1 if value > 0 else -1)
    return direction if changed_clip == 2 else -direction


def measure_pairs(data_dir: str, pairs: list[dict], description: str = "measuring") -> tuple[list, list[float]]:
    """The [`Evidence`] of each pair, and the seconds each took."""
    evidences, seconds = [], []
    for pair in tqdm(pairs, desc=description, unit="pair"):
        start = time.perf_counter()
        paths = [os.path.join(data_dir, pair[key]) for key in ("filepath1", "filepath2")]
        evidences.append(compare_clips(*paths))
        seconds.append(time.perf_counter() - start)
    return evidences, seconds


def evidence_accuracy(pairs: list[dict], evidences: list) -> dict:
    """Per change type: pairs, the share whose evidence names the changed clip and the change, and the other
    findings its pairs got (loudness aside); plus identical and near-identical pairs with no finding (and which
    findings the others got)."""
    per_change, same, spurious, misses = defaultdict(Counter), Counter(), Counter(), []
    others = defaultdict(Counter)
    for pair, evidence in zip(pairs, evidences, strict=True):
        if pair["kind"] in ("identical", "near_identical"):
            same["pairs"] += 1
            same["right"] += not evidence.findings
            spurious.update(state.name for state in evidence.findings)
            continue
        if pair["kind"] != "change":
            continue
        change = pair["change"]
        sign = expected_sign(change, pair["value"], pair["changed_clip"])
        per_change[change]["pairs"] += 1
        if sign is None:
            continue
        state = evidence.properties[CHANGE_PROPERTY[change][0]]
        right = state.present == (True, True) if change == "reverse" else state.sign == sign
        per_change[change]["right"] += right
        # what else the evidence says of a pair with one change (loudness aside: several changes move it)
        others[change].update(f.name for f in evidence.findings if f.name not in (state.name, "loudness"))
        if not right and len(misses) < 30:
            misses.append(
                {"change": change, "value": pair["value"], "files": [pair["filepath1"], pair["filepath2"]]}
                | {"measured": state.sentence or state.reason or "no difference above threshold"}
            )
    table = {
        change: {"pairs": c["pairs"], "accuracy": c["right"] / c["pairs"] if change in CHANGE_PROPERTY else None}
        | {"other_findings": dict(others[change].most_common())}
        for change, c in sorted(per_change.items())
    }
    return {
        "per_change": table,
        "same_pairs": same["pairs"],
        "same_no_finding": same["right"] / same["pairs"] if same["pairs"] else None,
        "same_spurious_findings": dict(spurious),
        "misses": misses,
    }


_CLIP_WORD = re.compile(r"\b(audio|clip|recording)(\s*)([12])\b|\b(first|second)\b", re.IGNORECASE)


def swap_clips(text: str) -> str:
    """`text` with the clips swapped ("audio 1" <-> "audio 2", "first" <-> "second"): a known-wrong answer."""

    def swap(match):
        if match.group(3):
            return f"{match.group(1)}{match.group(2)}{'2' if match.group(3) == '1' else '1'}"
        word = {"first": "second", "second": "first"}[match.group(4).lower()]
        return word.capitalize() if match.group(4)[0].isupper() else word

    return _CLIP_WORD.sub(swap, text)


def grounding_accuracy(evidences: list, texts: list[str], labels: list = ()) -> dict:
    """The claim check over `texts` (one per evidence): claims per outcome, the share contradicted among the
    checkable ones and among all, the outcomes per property, and per text whether it was flagged (and if not,
    why: `_answer_outcome`)."""
    outcomes, per_property, examples, answers = Counter(), defaultdict(Counter), [], Counter()
    labels = list(labels) or [()] * len(texts)
    for evidence, text, names in zip(evidences, texts, labels, strict=True):
        claims = check_claims(text, evidence, ignore=names)
        answers[_answer_outcome(claims)] += 1
        for claim in claims:
            outcomes[claim.outcome] += 1
            per_property[claim.property][claim.outcome] += 1
            if len(examples) < 12 and claim.outcome == CONTRADICTED:
                examples.append({"text": text, "claim": claim.text, "measurement": claim.measurement})
    total = sum(outcomes.values())
    checkable = total - outcomes[NOT_CHECKABLE]
    return {
        "claims": total,
        "outcomes": dict(outcomes),
        "checkable_share": checkable / total if total else None,
        "flagged_of_checkable": outcomes[CONTRADICTED] / checkable if checkable else None,
        "flagged_of_all": outcomes[CONTRADICTED] / total if total else None,
        "per_property": {name: dict(c) for name, c in sorted(per_property.items())},
        "answers": dict(answers),
        "examples": examples,
    }


def _answer_outcome(claims) -> str:
    """A whole text's outcome: "flagged" (a claim contradicted), else why not: "no claim parsed", "nothing
    checkable" (every claim not checkable), or "claims supported" (the checkable ones all hold)."""
    if any(claim.outcome == CONTRADICTED for claim in claims):
        return "flagged"
    if not claims:
        return "no claim parsed"
    if all(claim.outcome == NOT_CHECKABLE for claim in claims):
        return "nothing checkable"
    return "claims supported"


def reference_answers(data_dir: str, split: str) -> dict[tuple[str, str], list[str]]:
    """The builder's answers per pair (`(filepath1, filepath2)` -> the three tiers' texts, in CSV order)."""
    answers = defaultdict(list)
    with open(os.path.join(data_dir, f"{split}.csv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            answers[(row["filepath1"], row["filepath2"])].append(row["answer"])
    return answers


def evidence_cost(seconds_list=(2.5, 5, 10, 30, 60), repeats: int = 3, rate: int = 44_100) -> list[dict]:
    """Seconds to measure and compare a pair of generated clips (a tone melody with noise; its copy 6 dB down) of
    each length, the median of `repeats` runs after one warm-up."""
    rng = np.random.default_rng(0)
    rows = []
    compare_clips(np.zeros(rate, np.float32) + 0.1, np.zeros(rate, np.float32) + 0.1, sampling_rate=rate)
    for seconds in seconds_list:
        t = np.arange(int(seconds * rate)) / rate
        notes = 220 * 2 ** (np.floor(t * 3) % 12 / 12)
        wave = (0.3 * np.sin(2 * np.pi * np.cumsum(notes) / rate) + 0.01 * rng.standard_normal(len(t))).astype(
            np.float32
        )
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            compare_clips(wave, wave * 0.5, sampling_rate=rate)
            runs.append(time.perf_counter() - start)
        rows.append({"seconds": seconds, "pair_seconds": float(np.median(runs))})
    return rows


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def evidence_table(result: dict) -> str:
    """Markdown: per change type, pairs and the share named right (goal marked)."""
    lines = ["| change | pairs | evidence names the clip and the change | goal |", "|---|---|---|---|"]
    for change, row in result["per_change"].items():
        goal = "≥ 95%" if change in GOAL_CHANGES else ""
        accuracy = _percent(row["accuracy"]) if row["accuracy"] is not None else "not measured"
        lines.append(f"| {change} | {row['pairs']} | {accuracy} | {goal} |")
    lines.append(
        f"| identical / near-identical: no finding | {result['same_pairs']} | {_percent(result['same_no_finding'])} | |"
    )
    return "\n".join(lines) + "\n"


def grounding_table(rows: dict) -> str:
    """Markdown: one row per text set (`name -> grounding_accuracy(...)`)."""
    lines = [
        "| texts | claims | checkable | flagged (of checkable) | flagged (of all claims) |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['claims']} | {_percent(r['checkable_share'])} | {_percent(r['flagged_of_checkable'])} | "
            f"{_percent(r['flagged_of_all'])} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "CHANGE_PROPERTY",
    "GOAL_CHANGES",
    "evidence_accuracy",
    "evidence_cost",
    "evidence_table",
    "expected_sign",
    "grounding_accuracy",
    "grounding_table",
    "measure_pairs",
    "read_pairs",
    "reference_answers",
    "swap_clips",
]
