"""ADIFF processor: audio pairs + prompts (+ answers) -> model inputs; generated ids -> text."""

import numpy as np
from transformers import BatchFeature, ProcessorMixin

from .audio_io import fit_clip, is_single_clip, load_clip
from .feature_extraction_adiff import ADiffFeatureExtractor

END_OF_TEXT = " <|endoftext|>"

# Chat messages (the `any-to-any` pipeline's chat form) -> ADIFF's plain prompt: the text blocks of the user turns.
# The two audio blocks are loaded by transformers and passed as `audio`.
CHAT_TEMPLATE = (
    "{%- for message in messages if message['role'] == 'user' -%}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for block in message['content'] if block['type'] == 'text' -%}{{ block['text'] }}"
    "{%- endfor -%}{%- endif -%}{%- endfor -%}"
)


class ADiffProcessor(ProcessorMixin):
    r"""
    Prepares inputs for [`ADiffForConditionalGeneration`]: two audio clips and a prompt per example, and decodes
    what the model generates.

    Prompts are prepared exactly as the release does: `prompt + " <|endoftext|>"`, GPT-2-tokenised and padded to
    `prompt_length` tokens with id `prompt_pad_token_id` (GPT-2's `"!"`, deliberately *not* made a special token,
    so that decoding keeps real exclamation marks). A prompt that does not fit raises an error naming the limit.

    Args:
        feature_extractor ([`ADiffFeatureExtractor`] or [`WhisperFeatureExtractor`]): the audio tower's front end:
            ADIFF's for HTSAT (it cuts and fills clips to 10 s itself), transformers' own for a Whisper tower.
        tokenizer ([`PreTrainedTokenizerBase`]): the language model's tokenizer (GPT-2's for the release).
        prompt_length (`int`, *optional*, defaults to 40): tokens the model's text mapper reads.
        num_prefix_tokens (`int`, *optional*, defaults to 121): embeddings the model places before the answer;
            `labels` carry -100 there.
        prompt_pad_token_id (`int`, *optional*, defaults to 0): the prompt padding id.
        end_of_text (`str`, *optional*, defaults to `" <|endoftext|>"`): appended to prompts and answers.
        chat_template (`str`, *optional*): renders chat messages to the prompt; by default the user turns' text.
        clip_seconds (`float`, *optional*): the seconds of each clip the model hears, when the feature extractor
            does not cut and fill clips itself: Whisper's pads every clip to its 30 s window, and ADIFF around a
            Whisper tower hears 10 s, tiled as the release tiles short clips.
    """

    def __init__(
        self,
        feature_extractor: ADiffFeatureExtractor | None = None,
        tokenizer=None,
        prompt_length: int = 40,
        num_prefix_tokens: int = 121,
        prompt_pad_token_id: int = 0,
        end_of_text: str = END_OF_TEXT,
        chat_template: str | None = CHAT_TEMPLATE,
        clip_seconds: float | None = None,
        **kwargs,
    ):
        self.clip_seconds = clip_seconds
        self.prompt_length = prompt_length
        self.num_prefix_tokens = num_prefix_tokens
        self.prompt_pad_token_id = prompt_pad_token_id
        self.end_of_text = end_of_text
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "input_features"]

    def _tokenize(self, text: str, name: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {type(text).__name__}.")
        if not text.strip():
            raise ValueError(f"{name} is empty: give a prompt (e.g. one of adiff_hf.prompts.TASK_PROMPTS).")
        if not text.rstrip().endswith(self.end_of_text.strip()):
            text = text + self.end_of_text
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _prompt_ids(self, prompts: list[str]) -> list[list[int]]:
        batch = []
        for i, prompt in enumerate(prompts):
            ids = self._tokenize(prompt, f"text[{i}]")
            if len(ids) > self.prompt_length:
                raise ValueError(
                    f"text[{i}] is {len(ids)} tokens with the end marker; ADIFF reads at most prompt_length="
                    f"{self.prompt_length} prompt tokens. Shorten the prompt: {prompt!r}"
                )
            batch.append(ids + [self.prompt_pad_token_id] * (self.prompt_length - len(ids)))
        return batch

    def _labels(self, answers: list[str], max_answer_length: int | None) -> list[list[int]]:
        answer_ids = [self._tokenize(answer, f"answer[{i}]") for i, answer in enumerate(answers)]
        if max_answer_length is not None:
            answer_ids = [ids[:max_answer_length] for ids in answer_ids]
        longest = max(len(ids) for ids in answer_ids)
        return [[-100] * self.num_prefix_tokens + ids + [-100] * (longest - len(ids)) for ids in answer_ids]

    def __call__(
        self,
        text: str | list[str] | None = None,
        audio=None,
        answer: str | list[str] | None = None,
        sampling_rate: int | None = None,
        crop: str | None = None,
        max_answer_length: int | None = None,
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        """Prepare a batch.

        Args:
            text (`str` or `list[str]`): one prompt per pair, e.g. "explain the difference between the two audio
                in detail" or "caption the first audio".
            audio: one pair `(audio1, audio2)` or a list of pairs. Each clip is a file path, a 1-D (mono) or 2-D
                (multichannel) array at `sampling_rate`, or `{"array": ..., "sampling_rate": ...}`.
            answer (`str` or `list[str]`, *optional*): target explanations; adds `labels` for training.
            sampling_rate (`int`, *optional*): rate of array inputs; defaults to the feature extractor's (32 kHz).
            crop (`str`, *optional*): how to cut clips longer than 10 s (`"start"`, `"center"` or `"random"`).
            max_answer_length (`int`, *optional*): truncate answers to this many tokens (end marker included).
            return_tensors (`str`, *optional*, defaults to `"pt"`).

        Returns:
            [`BatchFeature`] with `input_ids` `(batch, prompt_length)`, `input_features` `(batch, 2, frames,
            mel_bins)` and, with `answer`, `labels` `(batch, num_prefix_tokens + longest answer)`.
        """
        if text is None or audio is None:
            raise ValueError("ADiffProcessor needs both `text` (one prompt per pair) and `audio` (the pairs).")
        prompts = [text] if isinstance(text, str) else list(text)
        if isinstance(audio, (list, tuple)) and audio and is_single_clip(audio[0]):
            # one pair, or (as chat templates pass them) all clips flat, two per prompt
            if len(prompts) > 1 and len(audio) == 2 * len(prompts) and all(map(is_single_clip, audio)):
                pairs = [audio[i : i + 2] for i in range(0, len(audio), 2)]
            else:
                pairs = [audio]
        else:
            pairs = audio
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise ValueError("`audio` must be a pair (audio1, audio2) or a non-empty list of pairs.")
        pairs = list(pairs)
        if len(prompts) != len(pairs):
            raise ValueError(f"Got {len(prompts)} prompts (`text`) for {len(pairs)} audio pairs: give one per pair.")
        data = self.prepare_text(prompts, answer, max_answer_length, return_tensors=None)
        data["input_features"] = self.prepare_audio(pairs, sampling_rate, crop, return_tensors=None)["input_features"]
        return BatchFeature(data, tensor_type=return_tensors)

    @property
    def heard_seconds(self) -> float:
        """The seconds of each clip the model hears (10 s for ADIFF)."""
        if self.clip_seconds is not None:
            return float(self.clip_seconds)
        return self.feature_extractor.nb_max_samples / self.feature_extractor.sampling_rate

    def prepare_audio(
        self, audio, sampling_rate: int | None = None, crop: str | None = None, return_tensors: str | None = "pt"
    ) -> BatchFeature:
        """The audio side alone: `input_features` `(pairs, 2, ...)` for a list of pairs, exactly as `__call__`
        makes them. A file longer than what the model hears is read only where it is cut (see `audio_io`)."""
        rate = self.feature_extractor.sampling_rate
        crop = crop or getattr(self.feature_extractor, "crop", None) or "start"
        clips = []
        for i, pair in enumerate(audio):
            if is_single_clip(pair) or len(pair) != 2:
                count = 1 if is_single_clip(pair) else len(pair)
                raise ValueError(f"audio[{i}] must be a pair of two clips (audio1, audio2); got {count}.")
            clips += [
                load_clip(clip, sampling_rate, rate, f"audio[{i}][{j}]", max_seconds=self.heard_seconds, crop=crop)
                for j, clip in enumerate(pair)
            ]
        if self.clip_seconds is not None:  # an extractor that only pads to its own window: cut and tile here
            length = round(self.clip_seconds * rate)
            clips = [fit_clip(clip, length, crop) for clip in clips]
            features = self.feature_extractor(clips, sampling_rate=rate, return_tensors="np")["input_features"]
        else:
            features = self.feature_extractor(clips, crop=crop, return_tensors="np")["input_features"]
        # (pairs, 2, frames, mel_bins) from ADIFF's extractor, (pairs, 2, mel_bins, frames) from Whisper's
        features = features.reshape(len(audio), 2, *features.shape[-2:])
        return BatchFeature({"input_features": features}, tensor_type=return_tensors)

    def prepare_text(
        self,
        text: str | list[str],
        answer: str | list[str] | None = None,
        max_answer_length: int | None = None,
        return_tensors: str | None = "pt",
    ) -> BatchFeature:
        """The text side alone: `input_ids` (prompts) and, with `answer`, `labels`, exactly as `__call__` makes
        them. For batches whose audio arrives as precomputed clip embeddings (`audio_embeds`)."""
        prompts = [text] if isinstance(text, str) else list(text)
        data = {"input_ids": np.asarray(self._prompt_ids(prompts), dtype=np.int64)}
        if answer is not None:
            answers = [answer] if isinstance(answer, str) else list(answer)
            if len(answers) != len(prompts):
                raise ValueError(f"Got {len(answers)} answers for {len(prompts)} audio pairs: give one per pair.")
            data["labels"] = np.asarray(self._labels(answers, max_answer_length), dtype=np.int64)
        return BatchFeature(data, tensor_type=return_tensors)

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        """Decode generated ids into explanations (the model's outputs hold only new tokens)."""
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)
        return [text.strip() for text in texts]

    def post_process_image_text_to_text(self, generated_outputs, skip_special_tokens: bool = True, **kwargs):
        """What transformers' multimodal pipelines call to decode: the explanations, one per sequence."""
        return self.batch_decode(generated_outputs, skip_special_tokens=skip_special_tokens, **kwargs)

    def decode(self, sequence, skip_special_tokens: bool = True, **kwargs) -> str:
        return self.tokenizer.decode(sequence, skip_special_tokens=skip_special_tokens, **kwargs).strip()


__all__ = ["ADiffProcessor"]
