"""ADIFF configuration."""

from transformers import AutoConfig, ClapAudioConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

# HTSAT exactly as ADIFF builds it: the values its code reads, not the ones its yaml shows.
ADIFF_HTSAT_DEFAULTS = {
    "num_mel_bins": 64,
    "spec_size": 256,
    "window_size": 8,
    "patch_size": 4,
    "patch_stride": [4, 4],
    "patch_embeds_hidden_size": 96,
    "depths": [2, 2, 6, 2],
    "num_attention_heads": [4, 8, 16, 32],
    "hidden_size": 768,
    "mlp_ratio": 4.0,
    "qkv_bias": True,
    "enable_fusion": False,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.1,
    "layer_norm_eps": 1e-5,
}

# The release's GPT-2 is GPT-2 base with a 512-position table.
ADIFF_GPT2_DEFAULTS = {"n_positions": 512}


# the heads an ear may carry (see `ADiffEarConfig.label_words`), and the prefix slots `ear_word_prefix` reads from
# them: each clip's kind of source, the changed clip, the change
EAR_HEADS = ("change", "clip", "strength", "kind")
EAR_WORD_SLOTS = ("kind", "kind", "clip", "change")


class ADiffEarConfig(PreTrainedConfig):
    r"""
    Configuration of ADIFF's comparing ear ([`ADiffEarModel`]): a small CNN, trained from scratch, that encodes each
    clip of a pair *next to its partner*. Each clip's input is three channels, `[its log-mel, the partner's, the
    difference]`, so a change is seen frame by frame before anything is pooled; the output is one token per time
    step (a few per second), which ADIFF's mappers read as `audio_time_segments` segments.

    Args:
        num_mel_bins (`int`, *optional*, defaults to 64): mel bins of the log-mel (ADIFF's front end: 64).
        channels (`list[int]`, *optional*, defaults to `[32, 64, 128, 128]`): output channels of the conv blocks.
        time_strides (`list[int]`, *optional*, defaults to `[2, 2, 2, 1]`): each block's stride in time (all
            halve frequency).
        hidden_size (`int`, *optional*, defaults to 256): width of the output tokens.
        level_offset (`float`, *optional*, defaults to 50.0), level_scale (`float`, *optional*, defaults to 20.0):
            the log-mel in dB is read as `(dB + level_offset) / level_scale`: a fixed scale, so that level stays
            visible (no per-clip normalisation).
        dropout (`float`, *optional*, defaults to 0.1): dropout on the output tokens while training.
        input_frames (`int`, *optional*, defaults to 1001): log-mel frames of one heard clip (10 s at ADIFF's 10 ms
            hop); sets `time_frames`, the tokens per clip.
        label_words (`dict[str, list[str]]`, *optional*): None: the ear alone. A dict: the ear carries the heads of
            its pretraining stage, one per key of `EAR_HEADS`, each class named by the words its answers use:
            `"change"` (the direction-aware change of the pair), `"clip"` (the changed clip: exactly two),
            `"strength"` (its strength bucket) and `"kind"` (each clip's kind of source). With
            [`ADiffConfig.ear_word_prefix`], the language model reads these heads' posteriors as mixtures of the
            embeddings of these words.
    """

    model_type = "adiff_ear"

    num_mel_bins: int = 64
    channels: list[int] | tuple[int, ...] = (32, 64, 128, 128)
    time_strides: list[int] | tuple[int, ...] = (2, 2, 2, 1)
    hidden_size: int = 256
    level_offset: float = 50.0
    level_scale: float = 20.0
    dropout: float = 0.1
    input_frames: int = 1001
    label_words: dict[str, list[str]] | None = None

    def __post_init__(self, **kwargs):
        self.channels, self.time_strides = list(self.channels), list(self.time_strides)
        if self.label_words is not None:
            given = sorted(self.label_words) if isinstance(self.label_words, dict) else self.label_words
            if given != sorted(EAR_HEADS) or not all(self.label_words[head] for head in EAR_HEADS):
                raise ValueError(
                    f"label_words must name the classes of each head {list(EAR_HEADS)}, each a non-empty list of "
                    f"words; got {given!r}."
                )
            if len(self.label_words["clip"]) != 2:
                raise ValueError(
                    f"label_words['clip'] names the two clips of a pair; got {self.label_words['clip']!r}."
                )
        if len(self.channels) != len(self.time_strides) or not self.channels:
            raise ValueError(
                f"channels ({self.channels}) and time_strides ({self.time_strides}) must be as long as each other, "
                "one entry per conv block."
            )
        if self.num_mel_bins % 2 ** len(self.channels):
            raise ValueError(
                f"num_mel_bins={self.num_mel_bins} must be divisible by 2 ** {len(self.channels)} (each block "
                "halves frequency)."
            )
        super().__post_init__(**kwargs)

    @property
    def time_frames(self) -> int:
        """Tokens per clip: `input_frames` after each block's stride (kernel 3, padding 1)."""
        frames = self.input_frames
        for stride in self.time_strides:
            frames = (frames - 1) // stride + 1
        return frames


PREFIX_INITS = ("release", "inputs")


class ADiffConfig(PreTrainedConfig):
    r"""
    Configuration of an ADIFF model: an HTSAT audio tower, a projection, two audio mappers, a text mapper, a
    cross-projection and a causal language model that decodes from the resulting prefix.

    `ADiffConfig()` with no arguments is the released ADIFF base model at full size.

    Args:
        audio_config (`ClapAudioConfig`, `WhisperConfig` or `dict`, *optional*):
            The audio tower: HTSAT (`ClapAudioModel`, ADIFF's, the default), a Whisper encoder (`WhisperEncoder`,
            whose clip embedding is the mean of its first `audio_embed_frames` output frames), or this project's
            comparing ear ([`ADiffEarConfig`], `model_type` `"adiff_ear"`: each clip encoded next to its partner).
        text_config (`PreTrainedConfig` or `dict`, *optional*):
            The language model: any causal LM transformers builds with `AutoModel` (GPT-2, Llama-family such as
            SmolLM2, ...). Defaults to GPT-2 base with 512 positions. Prefix and mapper widths follow its hidden size.
        projection_dim (`int`, *optional*, defaults to 1024):
            Output size of the audio projection (`linear1` -> GELU -> `linear2` + residual -> LayerNorm).
        projection_dropout (`float`, *optional*, defaults to 0.5):
            Dropout after `linear2` in the projection.
        normalize_audio_embeds (`bool`, *optional*, defaults to `True`):
            L2-normalise each projected audio embedding before the mappers.
        audio_clip_length (`int`, *optional*, defaults to 40):
            Number of tokens the linear layer of each audio mapper makes from one audio embedding.
        prefix_length (`int`, *optional*, defaults to 40):
            Number of learned constant tokens of each mapper, which is also the number of tokens each mapper outputs.
        prompt_length (`int`, *optional*, defaults to 40):
            Number of prompt tokens the text mapper reads (prompts are padded to this length).
        mapper_num_layers (`int`, *optional*, defaults to 4):
            Transformer layers in each audio mapper and in the text mapper.
        mapper_num_heads (`int`, *optional*, defaults to 8):
            Attention heads in the mappers.
        mapper_mlp_ratio (`float`, *optional*, defaults to 2.0):
            MLP width / model width in the mappers.
        cross_num_layers (`int`, *optional*, defaults to 4):
            Transformer layers of the cross-projection that mixes both audio prefixes and the text prefix.
        cross_num_heads (`int`, *optional*, defaults to 4):
            Attention heads of the cross-projection.
        cross_mlp_ratio (`float`, *optional*, defaults to 2.0):
            MLP width / model width of the cross-projection.
        mapper_hidden_size (`int`, *optional*):
            Width the mappers' transformers run at, with projections to and from the language model's width. None
            (the release) runs them at the language model's width; a small value makes a small head.
        mapper_dropout (`float`, *optional*, defaults to 0.0):
            Dropout inside the mapper and cross-projection MLPs.
        separator_token_id (`int`, *optional*, defaults to 50256):
            Token whose embedding separates the two audio prefixes: the language model's end token (GPT-2's
            `<|endoftext|>`).
        audio_embed_frames (`int`, *optional*):
            Whisper towers: output frames averaged into the clip embedding (500 = the 10 s ADIFF hears of Whisper's
            30 s window). Ignored by HTSAT.
        audio_time_segments (`int`, *optional*):
            None (the release): each clip is one pooled vector, which each audio mapper's `linear` expands into
            `audio_clip_length` tokens. An int K: the tower's output frames that cover the heard audio are
            mean-pooled into K equal consecutive time segments, and each audio mapper reads them as K tokens
            (`segment_linear`, plus a learned `segment_embeddings` position per segment), so the order of events
            in a clip reaches the language model. Whisper: the first `audio_embed_frames` frames; HTSAT: its
            final feature map, averaged over frequency (`audio_time_frames` positions). At most
            `audio_time_frames`.
        prefix_init (`str`, *optional*, defaults to `"release"`):
            How a freshly built head starts (weights loaded from a checkpoint are never touched). `"release"`: the
            mappers' learned prefix tokens are drawn with `torch.randn`, as the release does; they then outweigh
            what the mappers read hundreds of times over, so the prefix hardly depends on the audio or the prompt
            at the first step. `"inputs"`: they are drawn at the initializer range and the cross-projection's
            residual branches start at zero, so the prefix follows the audio and the prompt from the first step
            (what a head trained from scratch on a CPU budget needs).
        prefix_norm (`float`, *optional*):
            None (the release): the prefix is the cross-projection's output as it is. A float: each prefix token is
            scaled to this L2 norm (the typical norm of the language model's word embeddings suits), so that no token
            can grow into a large constant the language model leans on instead of reading the audio and the prompt.
        prompt_words (`bool`, *optional*, defaults to False):
            False (the release): the language model reads the prompt only through the text mapper's part of the
            prefix. True: the prompt's own word embeddings (all `prompt_length`, padding included) also follow the
            cross-projection's prefix, as they are, so that a small head trained briefly still tells the tasks apart
            (through the mapper alone, a short prompt padded to `prompt_length` moves the prefix very little).
        ear_word_prefix (`bool`, *optional*, defaults to False):
            With an ear that carries its heads (`audio_config.label_words`): four more prefix tokens follow the
            cross-projection's, each a mixture of word embeddings weighted by one head's posterior (`EAR_WORD_SLOTS`:
            the kind of source of audio 1, of audio 2, the changed clip, the change). A pretrained language model
            reads them as words from the first step, so what the ear hears cannot be trained away as noise.
        ear_word_token_ids (`dict[str, list[list[int]]]`, *optional*):
            For `ear_word_prefix`: the language model's token ids of each head's `label_words`, one list per class
            (a class's embedding is the mean of its tokens'). The backbone builder fills them from the tokenizer.
        prompt_pad_token_id (`int`, *optional*, defaults to 0):
            Id prompts are padded with (GPT-2's `"!"`, as in the release; it is not made a special token).
        spec_augment_time_stripes (`int`, *optional*, defaults to 2), spec_augment_time_width (`int`, *optional*,
        defaults to 64), spec_augment_freq_stripes (`int`, *optional*, defaults to 2), spec_augment_freq_width
        (`int`, *optional*, defaults to 8):
            SpecAugment as the release's HTSAT applies it while its audio tower is in training mode: stripes of
            up to `width - 1` frames / mel bins of the normalised log-mel are zeroed. 0 stripes turns it off. It
            never applies in eval mode (inference, or a frozen audio tower during training).

    Example:

    ```python
    >>> from adiff_hf import ADiffConfig, ADiffForConditionalGeneration
    >>> config = ADiffConfig()
    >>> model = ADiffForConditionalGeneration(config)
    ```
    """

    model_type = "adiff"
    # what Trainer leaves out of evaluation outputs, so that they are the logits alone: the language model's cache
    # (under the name of every supported transformers release) and the prefix
    keys_to_ignore_at_inference = ["cache", "past_key_values", "prefix_embeds"]
    sub_configs_defaults = {
        "audio_config": SubConfigSpec(
            config_class=AutoConfig, model_type="clap_audio_model", init_kwargs=ADIFF_HTSAT_DEFAULTS
        ),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="gpt2", init_kwargs=ADIFF_GPT2_DEFAULTS),
    }

    audio_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    projection_dim: int = 1024
    projection_dropout: float = 0.5
    normalize_audio_embeds: bool = True
    audio_clip_length: int = 40
    prefix_length: int = 40
    prompt_length: int = 40
    mapper_num_layers: int = 4
    mapper_num_heads: int = 8
    mapper_mlp_ratio: float = 2.0
    cross_num_layers: int = 4
    cross_num_heads: int = 4
    cross_mlp_ratio: float = 2.0
    mapper_dropout: float = 0.0
    mapper_hidden_size: int | None = None
    separator_token_id: int = 50256
    prompt_pad_token_id: int = 0
    audio_embed_frames: int | None = None
    audio_time_segments: int | None = None
    prefix_init: str = "release"
    prefix_norm: float | None = None
    prompt_words: bool = False
    ear_word_prefix: bool = False
    ear_word_token_ids: dict[str, list[list[int]]] | None = None
    spec_augment_time_stripes: int = 2
    spec_augment_time_width: int = 64
    spec_augment_freq_stripes: int = 2
    spec_augment_freq_width: int = 8
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        # A partial dict keeps ADIFF's values for what it leaves out (transformers would use the
        # generic class defaults, e.g. HTSAT dropout 0.1, which is not the network ADIFF trained).
        is_htsat = self.audio_config is None or isinstance(self.audio_config, ClapAudioConfig)
        if isinstance(self.audio_config, dict) and self.audio_config.get("model_type") == ADiffEarConfig.model_type:
            # built here, not through AutoConfig: a saved directory loads with remote code, where it is not registered
            self.audio_config = ADiffEarConfig(**{k: v for k, v in self.audio_config.items() if k != "model_type"})
        if isinstance(self.audio_config, dict) and self.audio_config.get("model_type", "clap_audio_model") == (
            "clap_audio_model"
        ):
            audio = {**ADIFF_HTSAT_DEFAULTS, "model_type": "clap_audio_model", **self.audio_config}
            if "hidden_size" not in self.audio_config:
                audio["hidden_size"] = audio["patch_embeds_hidden_size"] * 2 ** (len(audio["depths"]) - 1)
            self.audio_config = audio
            is_htsat = True
        is_ear = isinstance(self.audio_config, ADiffEarConfig)
        if not is_htsat and not is_ear and self.audio_embed_frames is None:
            self.audio_embed_frames = 500
        if isinstance(self.text_config, dict) and self.text_config.get("model_type", "gpt2") == "gpt2":
            self.text_config = {**ADIFF_GPT2_DEFAULTS, "model_type": "gpt2", **self.text_config}
        super().__post_init__(**kwargs)
        if self.prefix_init not in PREFIX_INITS:
            raise ValueError(f"prefix_init must be one of {list(PREFIX_INITS)}; got {self.prefix_init!r}.")
        if self.prefix_norm is not None and not self.prefix_norm > 0:
            raise ValueError(f"prefix_norm must be None or a positive number; got {self.prefix_norm!r}.")
        if self.ear_word_prefix:
            words = getattr(self.audio_config, "label_words", None)
            if not is_ear or words is None:
                raise ValueError(
                    "ear_word_prefix needs an ear that carries its heads (an ADiffEarConfig with label_words, as the "
                    "ear stage saves it)."
                )
            ids = self.ear_word_token_ids
            if ids is not None and {h: len(ids.get(h, ())) for h in EAR_HEADS} != {h: len(words[h]) for h in EAR_HEADS}:
                raise ValueError(
                    "ear_word_token_ids must hold one token list per class of each head in audio_config.label_words."
                )
        segments = self.audio_time_segments
        if segments is not None:
            if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
                raise ValueError(f"audio_time_segments must be None or a positive int; got {segments!r}.")
            if segments > self.audio_time_frames:
                raise ValueError(
                    f"audio_time_segments={segments} is more than the {self.audio_time_frames} time frames the "
                    "audio tower outputs for a clip (audio_time_frames): each segment needs at least one frame."
                )

    @property
    def audio_embed_dim(self) -> int:
        """Size of one clip embedding out of the audio tower (HTSAT: 768, Whisper tiny: 384, the ear: its width)."""
        return getattr(self.audio_config, "d_model", None) or self.audio_config.hidden_size

    @property
    def audio_time_frames(self) -> int:
        """Time positions of the tower's output that cover one heard clip: Whisper's `audio_embed_frames`; HTSAT's
        final feature map, whose time axis is its spectrogram image folded back (`spec_size / num_mel_bins` rows
        of time, each `spec_size / (patch stride * 2 ** (stages - 1))` positions wide)."""
        audio = self.audio_config
        if audio.model_type == "whisper":
            return self.audio_embed_frames
        if audio.model_type == ADiffEarConfig.model_type:
            return audio.time_frames
        downsampling = audio.patch_stride[1] * 2 ** (len(audio.depths) - 1)
        return audio.spec_size // downsampling * (audio.spec_size // audio.num_mel_bins)

    @property
    def num_prefix_tokens(self) -> int:
        """Embeddings placed before the answer: audio 1, separator, audio 2, text (then, as configured, the prompt's
        words and the ear's)."""
        words = (self.prompt_length if self.prompt_words else 0) + (len(EAR_WORD_SLOTS) if self.ear_word_prefix else 0)
        return 3 * self.prefix_length + 1 + words


__all__ = ["EAR_HEADS", "EAR_WORD_SLOTS", "ADiffConfig", "ADiffEarConfig"]
