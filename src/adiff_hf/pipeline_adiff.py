"""`pipeline("audio-difference")`: explain how two recordings differ, or caption them."""

import importlib
import itertools
import numbers
import os

from transformers import Pipeline

from .audio_io import PAIR_COLUMNS, decode_cell, is_single_clip, pairs_dataset
from .prompts import TASK_PROMPTS, prompt_for


class AudioDifferencePipeline(Pipeline):
    """Explain the difference between two audio clips with an ADIFF model.

    Call forms:

    - `pipe(audio1, audio2)`: the detailed explanation (`tier="detail"`);
    - `pipe(audio1, audio2, tier="few_words" | "sentence" | "detail" | "caption_first" | "caption_second" |
      "caption_both")`, or `pipe(audio1, audio2, prompt="...")` for a prompt of one's own;
    - `pipe([(a1, b1), (a2, b2), ...], batch_size=8)` for many pairs;
    - `pipe(dataset, batch_size=8)`, a `datasets.Dataset` with two `Audio` columns (or `audio1` / `audio2`), or
      any iterable of pairs (a generator, `transformers.pipelines.pt_utils.KeyPairDataset(dataset, "a", "b")`):
      an iterator of results, one per pair in order, as transformers' pipelines give for datasets.

    A clip is a file path, a 1-D (or multichannel) array with `sampling_rate=...`, or
    `{"array": ..., "sampling_rate": ...}`. Other keyword arguments go to `generate()` (`max_new_tokens`,
    `num_beams`, `do_sample`, …). Each pair gives `[{"generated_text": str}]`.

    With `return_evidence=True` each result also carries `evidence` (the two clips' measured differences, see
    `adiff_hf.evidence.compare_clips`) and `claims` (each claim of the text marked supported, contradicted or not
    checkable against them).

    With `grounded=N` (N ≥ 2) the model gives N candidates per pair (N beams; N samples with `do_sample=True`), the
    pair is measured once and each candidate's claims are checked: the result is the candidate with the fewest
    contradicted claims, then the most supported, then the model's best (`adiff_hf.evidence.choose_candidate`), with
    `evidence`, its `claims`, every candidate's `text` / `contradicted` / `supported` / `rank` / `score` in
    `candidates`, and `chosen` (its rank). `grounded=1` or None decodes as usual.

    With `localize=True` (two file paths of any length) the pipeline finds where the recordings differ and explains
    each place instead: `pipe("take1.wav", "take2.wav", localize=True, top_k=3, hop_seconds=5)` returns
    `adiff_hf.localization.Localization.to_dict()` (the alignment, every window's scores, the ranked regions with
    their time spans and explanations; with `return_evidence=True` each region's measured differences too).

    Example:

    ```python
    >>> import adiff_hf
    >>> from transformers import pipeline
    >>> pipe = pipeline("audio-difference", model="path/to/adiff")
    >>> pipe("dog.wav", "cat.wav", tier="sentence")
    [{'generated_text': '...'}]
    ```
    """

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Batching collates through the feature extractor: prompts are already padded to one length (with "!",
        # which must not become the tokenizer's pad token) and log-mels have a fixed size.
        self.tokenizer = None
        self.feature_extractor = self.processor.feature_extractor

    def __call__(
        self,
        audio1,
        audio2=None,
        return_evidence: bool = False,
        localize: bool = False,
        grounded: int | None = None,
        **kwargs,
    ):
        grounded = self._grounded_count(grounded, kwargs)
        if localize:
            if grounded > 1:
                raise ValueError("grounded= does not combine with localize=True: each region is explained once.")
            return self.localize(audio1, audio2, return_evidence=return_evidence, **kwargs).to_dict()
        if audio2 is None and self._is_stream(audio1):
            return self._stream(audio1, return_evidence, grounded, kwargs)
        inputs = self._pairs(audio1, audio2)
        if grounded > 1:
            kwargs = self._candidate_kwargs(grounded, kwargs)
        outputs = super().__call__(inputs, **kwargs)
        if grounded <= 1 and not return_evidence:
            return outputs
        if isinstance(inputs, dict):
            return next(self._checked([inputs], [outputs], grounded, kwargs))
        return list(self._checked(inputs, outputs, grounded, kwargs))

    @staticmethod
    def _is_dataset(inputs) -> bool:
        """Whether `inputs` is a `datasets.Dataset` (by its attributes: datasets need not be installed)."""
        return hasattr(inputs, "features") and hasattr(inputs, "column_names")

    def _is_stream(self, inputs) -> bool:
        """Whether `inputs` is a dataset or an iterable of pairs, rather than one pair or a list of them."""
        if self._is_dataset(inputs):
            return True
        if isinstance(inputs, (str, os.PathLike, dict, list, tuple)) or hasattr(inputs, "shape"):  # arrays: a clip
            return False
        return hasattr(inputs, "__getitem__") or hasattr(inputs, "__next__")

    def _stream(self, inputs, return_evidence: bool, grounded: int, kwargs: dict):
        """The results of a dataset or iterable of pairs, lazily and in order (see `__call__`)."""
        if self._is_dataset(inputs):
            inputs = pairs_dataset(inputs).select_columns(list(PAIR_COLUMNS))
        pairs = (self._stream_pair(item, i) for i, item in enumerate(inputs))
        if grounded > 1:
            kwargs = self._candidate_kwargs(grounded, kwargs)
        if grounded <= 1 and not return_evidence:
            return super().__call__(pairs, **kwargs)
        fed, kept = itertools.tee(pairs)  # the pipeline reads ahead by a batch at most
        outputs = super().__call__((pair for pair in fed), **kwargs)  # a generator: what transformers streams
        return self._checked(kept, outputs, grounded, kwargs)

    def _checked(self, pairs, outputs, grounded: int, kwargs: dict):
        """Each pair's results with the evidence and the claims checked (`return_evidence=True`), or the best
        grounded candidate (`grounded` > 1)."""
        for pair, results in zip(pairs, outputs, strict=True):
            if grounded > 1:
                yield [self._choose(results, pair, kwargs).to_dict()]
                continue
            measured = self.measure(pair["audio1"], pair["audio2"], kwargs.get("sampling_rate"), kwargs.get("crop"))
            for result in results:
                claims = self._package_module().check_claims(result["generated_text"], measured)
                result["evidence"] = measured.to_dict()
                result["claims"] = [claim.to_dict() for claim in claims]
            yield results

    @classmethod
    def _stream_pair(cls, item, index: int) -> dict:
        """One item of a dataset or iterable as a pair (see `_as_pair`), its `datasets` cells decoded once (the
        evidence reads them again)."""
        pair = cls._as_pair(item, f"inputs[{index}]")
        return {key: decode_cell(pair[key], name=f"inputs[{index}] {key}") for key in PAIR_COLUMNS}

    @staticmethod
    def _as_pair(item, name: str) -> dict:
        """`item` as `{"audio1", "audio2"}`: a dict with audio1 (a dataset row), `{"text", "text_pair"}`
        (`KeyPairDataset`) or `(audio1, audio2)`. Raises ValueError naming `name` otherwise."""
        if isinstance(item, dict) and "audio1" in item:
            return item
        if isinstance(item, dict) and "text_pair" in item:
            return {"audio1": item.get("text"), "audio2": item["text_pair"]}
        if isinstance(item, (list, tuple)) and len(item) == 2:
            return {"audio1": item[0], "audio2": item[1]}
        count = len(item) if isinstance(item, (list, tuple)) else 1
        raise ValueError(f"{name} must be a pair of two clips (audio1, audio2); got {count}.")

    def measure(self, audio1, audio2, sampling_rate: int | None = None, crop: str | None = None):
        """Measure what the model heard of the two clips (the first 10 s of a longer one, or where `crop` cuts): an
        `adiff_hf.evidence.Evidence` (`Evidence.scope` says what was measured)."""
        evidence = self._package_module()
        crop = crop or getattr(self.processor.feature_extractor, "crop", None) or "start"
        return evidence.compare_clips(
            audio1, audio2, sampling_rate=sampling_rate, max_seconds=self.processor.heard_seconds, crop=crop
        )

    def check(self, text: str, audio1, audio2, sampling_rate: int | None = None, crop: str | None = None) -> tuple:
        """Measure what the model heard of the two clips (see `measure`) and check `text`'s claims against it:
        `(Evidence, list[Claim])` (see `adiff_hf.evidence`). `return_evidence=True` gives the same as dicts."""
        measured = self.measure(audio1, audio2, sampling_rate, crop)
        return measured, self._package_module().check_claims(text, measured)

    def ground(self, audio1, audio2, candidates: int, **kwargs):
        """Grounded decoding of one pair with `candidates` candidates, as objects: an
        `adiff_hf.evidence.Grounding` (the `Evidence`, every candidate with its checked claims, the `chosen` one);
        `pipe(audio1, audio2, grounded=candidates)` gives its `to_dict()`. Other keyword arguments are the call's
        (`prompt`, `tier`, `sampling_rate`, `crop`, `generate()`'s)."""
        if self._grounded_count(candidates, kwargs) < 2:
            raise ValueError(f"ground() needs at least 2 candidates, got {candidates!r}.")
        pair = self._pairs(audio1, audio2)
        if not isinstance(pair, dict):
            raise ValueError("ground() takes one pair: pipe(pairs, grounded=N) grounds many.")
        kwargs = self._candidate_kwargs(candidates, kwargs)
        return self._choose(super().__call__(pair, **kwargs), pair, kwargs)

    def _grounded_count(self, grounded, kwargs) -> int:
        """`grounded` checked: a whole number of candidates, at least 1 (None: 1), and no `num_return_sequences`
        beside it (grounded decoding sets it)."""
        if grounded is None:
            return 1
        if isinstance(grounded, bool) or not isinstance(grounded, numbers.Integral) or grounded < 1:
            raise ValueError(f"grounded must be a whole number of candidates, at least 1; got {grounded!r}.")
        if grounded > 1 and kwargs.get("num_return_sequences") is not None:
            raise ValueError(
                f"grounded={grounded} returns one explanation per pair, chosen from {grounded} candidates: leave "
                "num_return_sequences out (grounded decoding sets it)."
            )
        return int(grounded)

    def _candidate_kwargs(self, count: int, kwargs: dict) -> dict:
        """The call's keyword arguments for `count` candidates per pair: `count` beams (or as many as asked, if
        more), or `count` samples with `do_sample=True`; beam search also returns its sequence scores."""
        self._package_module(option="grounded=")  # fail before generating, not after
        defaults = self.model.generation_config
        beams = kwargs.get("num_beams") or getattr(defaults, "num_beams", None) or 1
        sampling = kwargs.get("do_sample", getattr(defaults, "do_sample", False))
        kwargs = kwargs | {"num_return_sequences": count}
        if not sampling or beams > 1:
            kwargs |= {"num_beams": max(count, beams), "return_dict_in_generate": True, "output_scores": True}
        return kwargs

    def _choose(self, results: list[dict], pair: dict, kwargs: dict):
        """The best grounded of one pair's candidate `results` (measured once)."""
        measured = self.measure(pair["audio1"], pair["audio2"], kwargs.get("sampling_rate"), kwargs.get("crop"))
        scores = [result.get("score") for result in results]
        return self._package_module(option="grounded=").choose_candidate(
            [result["generated_text"] for result in results],
            measured,
            None if any(score is None for score in scores) else scores,
        )

    def localize(
        self,
        audio1,
        audio2,
        return_evidence: bool = False,
        prompt: str | None = None,
        tier: str | None = None,
        top_k: int = 3,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        offset_seconds: float | None = None,
        progress: bool = False,
        **generate_kwargs,
    ):
        """Where two recordings of any length differ, each region explained by this pipeline: an
        `adiff_hf.localization.Localization` (`localize=True` gives its `to_dict()`)."""
        if not all(isinstance(a, (str, os.PathLike)) for a in (audio1, audio2)):
            raise ValueError("localize=True takes two file paths: long recordings are read in blocks from disk.")
        return self._package_module("adiff_hf.localization", "localize=True").localize_differences(
            audio1,
            audio2,
            self.model,
            self.processor,
            window_seconds=window_seconds,
            hop_seconds=hop_seconds,
            top_k=top_k,
            offset_seconds=offset_seconds,
            explain=True,
            prompt=prompt_for(tier, prompt),
            evidence=return_evidence,
            progress=progress,
            **generate_kwargs,
        )

    @staticmethod
    def _package_module(name: str = "adiff_hf.evidence", option: str = "return_evidence=True"):
        try:  # by name, not relatively: a pipeline saved as remote code runs without it
            return importlib.import_module(name)
        except ImportError as error:
            raise ImportError(f"{option} needs the adiff-hf package installed (pip install adiff-hf).") from error

    @staticmethod
    def _pairs(audio1, audio2):
        if audio2 is not None:
            inputs = {"audio1": audio1, "audio2": audio2}
        elif isinstance(audio1, dict) and "audio1" in audio1:
            inputs = audio1
        elif isinstance(audio1, (list, tuple)) and audio1 and not is_single_clip(audio1):
            inputs = [AudioDifferencePipeline._as_pair(pair, f"audio[{i}]") for i, pair in enumerate(audio1)]
        else:
            raise ValueError(
                "AudioDifferencePipeline needs two clips: pipe(audio1, audio2), or a list of (audio1, audio2) pairs."
            )
        return inputs

    def _sanitize_parameters(
        self, prompt: str | None = None, tier: str | None = None, sampling_rate=None, crop=None, **generate_kwargs
    ):
        preprocess = {} if prompt is None and tier is None else {"prompt": prompt_for(tier, prompt)}
        for name, value in (("sampling_rate", sampling_rate), ("crop", crop)):
            if value is not None:
                preprocess[name] = value
        forward = {"generate_kwargs": generate_kwargs} if generate_kwargs else {}
        return preprocess, forward, {}

    def preprocess(self, inputs, prompt: str = TASK_PROMPTS["detail"], sampling_rate=None, crop=None):
        missing = [key for key in ("audio1", "audio2") if inputs.get(key) is None]
        if missing:
            raise ValueError(f"A pair needs audio1 and audio2; {' and '.join(missing)} missing.")
        return self.processor(
            text=[prompt],
            audio=[(inputs["audio1"], inputs["audio2"])],
            sampling_rate=sampling_rate,
            crop=crop,
            return_tensors="pt",
        )

    def _forward(self, model_inputs, generate_kwargs=None):
        output = self.model.generate(**model_inputs, **(generate_kwargs or {}))
        pairs = model_inputs["input_ids"].shape[0]
        sequences = getattr(output, "sequences", output)  # with return_dict_in_generate=True, a ModelOutput
        result = {"sequences": sequences.reshape(pairs, -1, sequences.shape[-1])}  # (pairs, returned, length)
        scores = getattr(output, "sequences_scores", None)  # beam search's, with output_scores=True
        if scores is not None:
            result["sequences_scores"] = scores.reshape(pairs, -1)
        return result

    def postprocess(self, model_outputs):
        sequences = model_outputs["sequences"]
        texts = self.processor.batch_decode(sequences.reshape(-1, sequences.shape[-1]), skip_special_tokens=True)
        results = [{"generated_text": text} for text in texts]
        scores = model_outputs.get("sequences_scores")
        if scores is not None:
            for result, score in zip(results, scores.reshape(-1).tolist(), strict=True):
                result["score"] = score
        return results


__all__ = ["AudioDifferencePipeline"]
