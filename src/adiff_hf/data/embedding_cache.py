"""Clip embeddings of a frozen audio tower, computed once per file and reused every epoch and stage."""

import json
import os

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio_io import load_audio


class ClipEmbeddingCache:
    """`{audio path: clip embedding}` from a model's audio tower (what `audio_embeds` carries).

    Clips are featurised as at inference (`crop="start"`: the first 10 s), so a cache holds one deterministic
    embedding per file; random cropping is not available with it.
    """

    def __init__(self, embeddings: dict[str, np.ndarray], tower: str = ""):
        self.embeddings = embeddings
        self.tower = tower  # fingerprint of the audio tower's weights the embeddings came from

    @staticmethod
    def fingerprint(model) -> str:
        """A hash of the audio tower's weights: a cache is only valid for the tower that made it."""
        import hashlib

        digest = hashlib.sha256()
        for name, tensor in sorted(model.model.audio_tower.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
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
        extractor = processor.feature_extractor
        was_training = model.training
        model.eval()
        embeddings = {}
        for start in tqdm(range(0, len(paths), batch_size), desc="clip embeddings", unit="batch"):
            chunk = paths[start : start + batch_size]
            waves = [load_audio(p, extractor.sampling_rate) for p in chunk]
            features = extractor(waves, crop="start", return_tensors="pt")["input_features"]
            if len(chunk) % 2:  # the tower takes pairs: pad with a copy of the last clip
                features = torch.cat((features, features[-1:]))
            pairs = features.reshape(-1, 2, *features.shape[2:]).to(model.device, model.dtype)
            clips = model.get_clip_embeddings(pairs).reshape(-1, model.config.audio_embed_dim)
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
