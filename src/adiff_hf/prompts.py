"""The prompts ADIFF understands: three difference tiers and position captioning, with paraphrase pools."""

import json
import os

# What the released model was trained to answer: one canonical prompt per task.
TASK_PROMPTS: dict[str, str] = {
    "few_words": "explain the difference between the two audio in few words",
    "sentence": "explain the difference between the two audio in a sentence",
    "detail": "explain the difference between the two audio in detail",
    "caption_first": "caption the first audio",
    "caption_second": "caption the second audio",
    "caption_both": "caption both the audios",
}

# The `input` column of the released ACD/CLD CSVs (and of the CSVs this project builds in their schema): how a
# dataset row names its tier. `tier_of_prompt` reads it back.
CSV_TIER_INPUTS: dict[str, str] = {
    "few_words": "explain the difference in few words",
    "sentence": "explain the difference in a sentence",
    "detail": "explain the difference in detail",
}

# Tier -> key of its paraphrase pool in the release's prompts.json.
POOL_KEYS: dict[str, str] = {
    "few_words": "WORD",
    "sentence": "SENTENCE",
    "detail": "DETAIL",
    "caption_first": "FIRST",
    "caption_second": "SECOND",
    "caption_both": "BOTH",
}

DIFFERENCE_TIERS = ("few_words", "sentence", "detail")
CAPTION_TASKS = ("caption_first", "caption_second", "caption_both")


def prompt_for(tier: str | None = None, prompt: str | None = None) -> str:
    """The prompt to give the model: `prompt` when given (a non-empty string), else the canonical prompt of `tier`
    (a difference tier or a caption task; default `"detail"`). Raises a `ValueError` naming the argument."""
    if prompt is not None and tier is not None:
        raise ValueError("Give either `prompt` or `tier`, not both.")
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("`prompt` must be a non-empty string.")
        return prompt
    tier = "detail" if tier is None else tier
    if tier not in TASK_PROMPTS:
        raise ValueError(f"Unknown tier {tier!r}; choose from {sorted(TASK_PROMPTS)}.")
    return TASK_PROMPTS[tier]


def tier_of_prompt(prompt: str) -> str | None:
    """The difference tier a dataset prompt asks for (ACD/CLD's `input` column), or None for other prompts."""
    text = prompt.lower()
    if "difference" not in text:
        return None
    if "few word" in text:
        return "few_words"
    if "sentence" in text:
        return "sentence"
    if "detail" in text:
        return "detail"
    return None


def load_prompt_pools(path: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Paraphrase pools per tier (`few_words`, …, `caption_both`).

    Without `path`, each pool holds only the canonical prompt. With the release's `prompts.json` (keys WORD,
    SENTENCE, DETAIL, FIRST, SECOND, BOTH), each pool is the canonical prompt plus its paraphrases.
    """
    pools = {tier: [prompt] for tier, prompt in TASK_PROMPTS.items()}
    if path is None:
        return pools
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"Prompt pool file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"Prompt pool file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"Prompt pool file {path} must hold a JSON object of lists, keyed {sorted(POOL_KEYS.values())}."
        )
    missing = [key for key in POOL_KEYS.values() if key not in data]
    if missing:
        raise ValueError(f"Prompt pool file {path} lacks the pools {missing} (expected {sorted(POOL_KEYS.values())}).")
    for tier, key in POOL_KEYS.items():
        entries = data[key]
        if not isinstance(entries, list) or not all(isinstance(p, str) and p.strip() for p in entries):
            raise ValueError(f"Prompt pool {key!r} in {path} must be a list of non-empty strings.")
        pools[tier] += [p.strip() for p in entries if p.strip() != TASK_PROMPTS[tier]]
    return pools


__all__ = [
    "CAPTION_TASKS",
    "CSV_TIER_INPUTS",
    "DIFFERENCE_TIERS",
    "POOL_KEYS",
    "TASK_PROMPTS",
    "load_prompt_pools",
    "prompt_for",
    "tier_of_prompt",
]
