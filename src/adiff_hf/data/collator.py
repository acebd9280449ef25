"""Batches of training examples -> model inputs, through the processor (audio read, resampled and featurised here)."""

from dataclasses import dataclass

import numpy as np
import torch
from transformers import BatchFeature

from ..processing_adiff import ADiffProcessor
from .embedding_cache import ClipEmbeddingCache


@dataclass
class ADiffDataCollator:
    """Collate `(filepath1, filepath2, prompt, answer)` examples for `Trainer` (or `(audio1, audio2, sampling_rate,
    prompt, answer)` with waveforms, as a pair stream makes them).

    Audio is read from the paths, downmixed, resampled and turned into log-mels by the processor; clips longer than
    10 s are cut as `crop` says (`"random"` for training, `"start"` for evaluation). Labels cover the answer tokens
    and the end marker only (-100 on the prefix and on padding).

    Args:
        processor ([`ADiffProcessor`]): prepares the batch.
        max_answer_length (`int`, *optional*): answer tokens kept (end marker included); tier-3 answers need ~300.
        crop (`str`, defaults to `"random"`): how to cut long clips.
        with_answers (`bool`, defaults to `True`): `False` gives prompt-only batches for `generate()`.
        embedding_cache ([`ClipEmbeddingCache`], *optional*): with a frozen audio tower, batches carry the cached
            clip embeddings as `audio_embeds` instead of log-mels (no audio is read): `(batch, 2, audio_embed_dim)`,
            or `(batch, 2, audio_time_segments, audio_embed_dim)` from a cache of time segments.
    """

    processor: ADiffProcessor
    max_answer_length: int | None = None
    crop: str = "random"
    with_answers: bool = True
    embedding_cache: ClipEmbeddingCache | None = None

    def __call__(self, examples: list[dict]) -> BatchFeature:
        # clips are files (`filepath1`, `filepath2`) or waveforms made on the fly (`audio1`, `audio2` at
        # `sampling_rate`, as `SpeakingExamples` gives them)
        arrays = "audio1" in examples[0]
        clips = ("audio1", "audio2") if arrays else ("filepath1", "filepath2")
        missing = [key for key in (*clips, "prompt") if key not in examples[0]]
        if missing or (self.with_answers and "answer" not in examples[0]):
            raise KeyError(
                f"ADiffDataCollator needs filepath1, filepath2, prompt and answer in each example; missing "
                f"{missing or ['answer']} (build them with build_training_examples; Trainer needs "
                "remove_unused_columns=False)."
            )
        if self.embedding_cache is not None:
            batch = self.processor.prepare_text(
                [e["prompt"] for e in examples],
                [e["answer"] for e in examples] if self.with_answers else None,
                self.max_answer_length,
            )
            pairs = [[self.embedding_cache[e["filepath1"]], self.embedding_cache[e["filepath2"]]] for e in examples]
            batch["audio_embeds"] = torch.from_numpy(np.asarray(pairs, dtype=np.float32))
            return batch
        return self.processor(
            text=[e["prompt"] for e in examples],
            audio=[
                tuple({"array": e[c], "sampling_rate": e["sampling_rate"]} if arrays else e[c] for c in clips)
                for e in examples
            ],
            answer=[e["answer"] for e in examples] if self.with_answers else None,
            crop=self.crop,
            max_answer_length=self.max_answer_length,
            return_tensors="pt",
        )


__all__ = ["ADiffDataCollator"]
