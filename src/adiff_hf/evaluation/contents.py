"""Does the model say what each clip holds? Captions and answers on pairs of two different sources.

Pairs where one clip is speech and the other is not are asked `caption_first` and `caption_second`; a caption is
right when it mentions a voice exactly when its clip is speech, and names the kind of a clip that is not speech
(music: an instrument, a melody, a drum struck; other sounds: a sound, a notification, an effect). Pairs of any two
sources are asked the sentence and detail tiers; an answer is right when it treats them as two sources (no change
named, not "the same") and mentions a voice exactly when one of the clips is speech. Pairs are stream items
([`~adiff_hf.data.pair_stream.DifferencePairStream`], e.g. of the `test_unseen` split), so any number can be drawn.
"""

import re

import numpy as np
import torch
from tqdm.auto import tqdm

from ..prompts import prompt_for
from .attributes import names_any_change, says_same

VOICE_PATTERN = r"\bvoice|\bsaying\b|\bsays?\b|\bspeak|\bspeech|\bspoken|\btalk|\bwoman\b|\bman\b|\bwords?\b"
KIND_PATTERNS = {
    "music": r"melod|playing|instrument|music|drum|cymbal|hi-?hat|snare|kick|struck|\bnote|piano|guitar|\btone|bell",
    "sound": r"\bsound|notification|effect|alert|noise|chime|click|beep",
}


def mentions_voice(text: str) -> bool:
    return re.search(VOICE_PATTERN, text.lower()) is not None


def names_kind(text: str, kind: str) -> bool:
    """Whether `text` names a clip of `kind` (`"speech"`, `"music"` or `"sound"`) as such."""
    return mentions_voice(text) if kind == "speech" else re.search(KIND_PATTERNS[kind], text.lower()) is not None


@torch.no_grad()
def answer_items(model, processor, items: list[dict], task: str, batch_size: int = 16, max_new_tokens: int = 64):
    """Greedy answers to the prompt of `task` (a tier or caption task) for stream items (their waveforms)."""
    model.eval()
    answers = []
    for start in tqdm(range(0, len(items), batch_size), desc=task, unit="batch"):
        batch = items[start : start + batch_size]
        audio = [
            tuple({"array": item[k], "sampling_rate": item["sampling_rate"]} for k in ("audio1", "audio2"))
            for item in batch
        ]
        inputs = processor(text=[prompt_for(task)] * len(batch), audio=audio, crop="start").to(model.device)
        ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        answers += processor.batch_decode(ids, skip_special_tokens=True)
    return answers


def measure_contents(model, processor, items: list[dict], batch_size: int = 16) -> dict:
    """Caption and tier scores on pairs of two sources (see the module docstring); every answer is kept."""
    pairs = [item for item in items if item["record"]["kind"] == "sources"]
    mixed = [p for p in pairs if sum(p["record"]["speech"]) == 1]
    results = {"pairs": len(pairs), "speech_against_other_pairs": len(mixed)}
    kinds = ("speech", "music", "sound")
    captions = {"voice_right": 0, "kind_named": 0, "non_speech": 0, "answers": []}
    for position, task in enumerate(("caption_first", "caption_second")):
        answers = answer_items(model, processor, mixed, task, batch_size, max_new_tokens=32)
        for item, answer in zip(mixed, answers, strict=True):
            speech = item["record"]["speech"][position]
            captions["voice_right"] += mentions_voice(answer) == speech
            if not speech:
                captions["non_speech"] += 1
                captions["kind_named"] += names_kind(answer, kinds[item["kinds"][position]])
            captions["answers"].append({"task": task, "speech": speech, "label": item["record"]["labels"][position]})
            captions["answers"][-1]["answer"] = answer
    results["captions"] = {
        "captions": 2 * len(mixed),
        "voice_exactly_when_speech": captions["voice_right"] / max(2 * len(mixed), 1),
        "non_speech_kind_named": captions["kind_named"] / max(captions["non_speech"], 1),
        "answers": captions["answers"],
    }
    for tier in ("sentence", "detail"):
        answers = answer_items(model, processor, pairs, tier, batch_size, max_new_tokens=96 if tier == "detail" else 48)
        right = [
            not names_any_change(a) and not says_same(a) and mentions_voice(a) == any(p["record"]["speech"])
            for p, a in zip(pairs, answers, strict=True)
        ]
        results[tier] = {
            "says_what_each_holds": float(np.mean(right)) if right else None,
            "median_words": float(np.median([len(a.split()) for a in answers])) if answers else None,
            "answers": answers,
        }
    return results


__all__ = ["KIND_PATTERNS", "VOICE_PATTERN", "answer_items", "measure_contents", "mentions_voice", "names_kind"]
