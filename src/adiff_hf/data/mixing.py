"""Training examples from difference rows: prompt paraphrases per tier, and position captioning mixed in."""

from collections.abc import Sequence

import datasets
import numpy as np

from ..prompts import CAPTION_TASKS, DIFFERENCE_TIERS, load_prompt_pools, prompt_for

EXAMPLE_COLUMNS = ("filepath1", "filepath2", "prompt", "answer", "task")
# words in the answer: `Trainer`'s `--train_sampling_strategy group_by_length` batches examples of similar length
# (few words with few words), so short answers are not padded to the length of detailed ones
LENGTH_COLUMN = "length"


def _clause(caption: str) -> str:
    """`"A dog barks."` -> `"a dog barks"`, to sit inside "The audio 1 is …." (acronyms keep their case)."""
    caption = caption.strip().rstrip(".").strip()
    if len(caption) > 1 and caption[0].isupper() and not caption[1].isupper():
        caption = caption[0].lower() + caption[1:]
    return caption


def caption_target(caption1: str, caption2: str, task: str) -> str:
    """The position-captioning answer: "The audio 1 is …." / "The audio 2 is …." / both sentences."""
    first, second = f"The audio 1 is {_clause(caption1)}.", f"The audio 2 is {_clause(caption2)}."
    return {"caption_first": first, "caption_second": second, "caption_both": f"{first} {second}"}[task]


def build_training_examples(
    dataset: datasets.Dataset,
    prompt_pools: dict[str, list[str]] | None = None,
    tiers: Sequence[str] | None = None,
    caption_ratio: float = 0.0,
    paraphrase: bool = True,
    seed: int = 0,
) -> datasets.Dataset:
    """Turn difference rows (from [`load_difference_csv`]) into `(filepath1, filepath2, prompt, answer, task)` examples.

    Args:
        dataset: difference rows with `tier`, `input`, `answer`, `caption1`, `caption2`.
        prompt_pools: paraphrases per tier, from [`~adiff_hf.prompts.load_prompt_pools`]; default: canonical only.
        tiers: keep difference rows of these tiers (`"few_words"`, `"sentence"`, `"detail"`); rows whose prompt is
            not one of the tiers (pairs of one's own) are always kept. Default: all.
        caption_ratio: position-captioning examples added per difference example (0.5 adds one for every two).
            They are drawn evenly from the FIRST / SECOND / BOTH tasks over the distinct pairs that have captions.
        paraphrase: draw each prompt from its tier's pool (plus the row's own `input`); otherwise keep `input`
            (and the canonical captioning prompts).
        seed: makes the draw deterministic.
    """
    if caption_ratio < 0:
        raise ValueError(f"caption_ratio must be >= 0, got {caption_ratio}.")
    unknown = sorted(set(tiers or ()) - set(DIFFERENCE_TIERS))
    if unknown:
        raise ValueError(f"Unknown tiers {unknown}; choose from {list(DIFFERENCE_TIERS)}.")
    pools = prompt_pools or load_prompt_pools()
    rng = np.random.default_rng(seed)

    def draw(pool: list[str]) -> str:
        return pool[int(rng.integers(len(pool)))]

    examples = []
    for row in dataset:
        tier = row["tier"]
        if tiers is not None and tier is not None and tier not in tiers:
            continue
        prompt = row["input"]
        if paraphrase and tier is not None:
            prompt = draw(pools[tier] + ([prompt] if prompt not in pools[tier] else []))
        examples.append(
            {"filepath1": row["filepath1"], "filepath2": row["filepath2"], "prompt": prompt, "answer": row["answer"]}
            | {"task": tier or "custom"}
        )
    if not examples:
        raise ValueError(f"No difference rows of the tiers {list(tiers or ())} in the dataset.")

    pairs = {}
    for row in dataset:
        if row["caption1"] and row["caption2"]:
            pairs.setdefault((row["filepath1"], row["filepath2"]), (row["caption1"], row["caption2"]))
    count = round(caption_ratio * len(examples))
    if count and not pairs:
        raise ValueError("caption_ratio > 0 needs rows with caption1 and caption2; this dataset has none.")
    candidates = [(pair, task) for pair in pairs for task in CAPTION_TASKS]
    rounds = -(-count // len(candidates)) if count else 0
    order = [int(i) for _ in range(rounds) for i in rng.permutation(len(candidates))]
    for index in order[:count]:
        (path1, path2), task = candidates[index]
        prompt = draw(pools[task]) if paraphrase else prompt_for(task)
        answer = caption_target(*pairs[(path1, path2)], task)
        examples.append({"filepath1": path1, "filepath2": path2, "prompt": prompt, "answer": answer, "task": task})
    for example in examples:
        example[LENGTH_COLUMN] = len(example["answer"].split())
    features = datasets.Features({name: datasets.Value("string") for name in EXAMPLE_COLUMNS})
    features[LENGTH_COLUMN] = datasets.Value("int32")
    return datasets.Dataset.from_list(examples, features=features)


__all__ = ["EXAMPLE_COLUMNS", "LENGTH_COLUMN", "build_training_examples", "caption_target"]
