"""Clip embeddings of a frozen audio tower, computed once per file and reused every epoch and stage."""

import json
import os

import numpy as np
import torch
from tqdm.auto import tqdm

# any prompt the processor accepts: computing clip embeddings reads only the audio side of its batch
CACHE_PROMPT = "caption the first audio"


class ClipEmbeddingCache:
    """`{audio path: clip embedding}` from a model's audio tower (what `audio_embeds` carries): one
    `(audio_embed_dim,)` vector per file, or `(audio_time_segments, audio_embed_dim)` when the model's config sets
    `audio_time_segments`.

    Clips are featurised as at inference (`crop="start"`: the first 10 s), so a cache holds one deterministic
    embedding per file; random cropping is not available with it.
    """

    def __init__(self, embeddings: dict[str, np.ndarray], tower: str = ""):
        self.embeddings = embeddings
        self.tower = tower  # fingerprint of the audio tower's weights the embeddings came from

    @staticmethod
    def fingerprint(model) -> str:
        """A hash of the audio tower's weights and of the embedding layout: a cache is only valid for the tower
        (and the number of time segments) that made it."""
        import hashlib

        digest = hashlib.sha256()
        for name, tensor in sorted(model.model.audio_tower.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
        segments = model.config.audio_time_segments
        if segments is not None:  # only then: caches of the single-vector layout keep their fingerprint
            digest.update(f"audio_time_segments={segments}".encode())
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.embeddings)

    def __contains__(self, path: str) -> bool:
        return path in self.embeddings

    def __getitem__(self, path: str) -> np.ndarray:
        try:
            return self.embeddings[path]
        except KeyError:
            raise KeyError(f"No cached clip embedding for {path}: compute the cache over every file used.") from None

    @classmethod
    @torch.no_grad()
    def compute(cls, model, processor, paths: list[str], batch_size: int = 16) -> "ClipEmbeddingCache":
        """Run `model`'s audio tower (eval mode) over `paths`, with a progress bar."""
        paths = list(dict.fromkeys(paths))
        was_training = model.training
        model.eval()
        embeddings = {}
        for start in tqdm(range(0, len(paths), batch_size), desc="clip embeddings", unit="batch"):
            chunk = paths[start : start + batch_size]
            # the tower takes pairs: an odd chunk is padded with a copy of its last clip
            padded = chunk + chunk[-1:] if len(chunk) % 2 else chunk
            pairs = [tuple(padded[i : i + 2]) for i in range(0, len(padded), 2)]
            # through the processor, so each clip is cut, tiled and featurised exactly as at inference, whatever
            # the tower's front end (the prompt is required there and unused here)
            features = processor(text=[CACHE_PROMPT] * len(pairs), audio=pairs, crop="start")["input_features"]
            embeds = model.get_clip_embeddings(features.to(model.device))
            clips = embeds.reshape(-1, *embeds.shape[2:])  # one (audio_embed_dim,) or (segments, dim) per clip
            for path, embedding in zip(chunk, clips.float().cpu().numpy(), strict=False):
                embeddings[path] = embedding
        model.train(was_training)
        return cls(embeddings, cls.fingerprint(model))

    def update(self, other: "ClipEmbeddingCache") -> None:
        if self.tower and other.tower and self.tower != other.tower:
            raise ValueError("These embeddings come from a different audio tower.")
        self.embeddings.update(other.embeddings)
        self.tower = self.tower or other.tower

    def save(self, path: str | os.PathLike) -> None:
        from safetensors.numpy import save_file

        paths = list(self.embeddings)
        # (files, audio_embed_dim), or (files, segments, audio_embed_dim): loading splits it along the first axis
        matrix = np.stack([self.embeddings[p] for p in paths]) if paths else np.zeros((0, 0), np.float32)
        metadata = {"paths": json.dumps(paths), "tower": self.tower}
        save_file({"embeddings": matrix}, os.fspath(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClipEmbeddingCache":
        from safetensors import safe_open

        with safe_open(os.fspath(path), framework="np") as f:
            metadata = f.metadata()
            matrix = f.get_tensor("embeddings")
        return cls(dict(zip(json.loads(metadata["paths"]), matrix, strict=True)), metadata.get("tower", ""))


__all__ = ["ClipEmbeddingCache"]
