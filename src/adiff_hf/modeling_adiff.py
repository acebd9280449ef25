"""ADIFF: explaining the difference between two audio clips in natural language.

The computation, top to bottom:
    log-mel (B, 2, T, F) --HTSAT (ClapAudioModel)--> clip embeddings --projection--> L2-normalised (B, 2, P)
    audio 1 --audio_mapper_1--> 40 tokens, audio 2 --audio_mapper_2--> 40 tokens
    prompt ids --LM embeddings--> text_mapper --> 40 tokens
    [audio 1, separator, audio 2, text] --cross_projection--> 121-embedding prefix --LM--> explanation

With `audio_time_segments=K` each clip is K time segments instead of one vector, `(B, 2, K, P)` after the
projection, and each audio mapper reads them as K tokens.

Only transformers' public API is used here; the few non-public names this file relies on are listed, with the
reason for each, in the README's "transformers compatibility" section.
"""

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Unpack

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModel,
    Cache,
    ClapAudioModel,
    GenerationMixin,
    GradientCheckpointingLayer,
    PreTrainedModel,
    WhisperForAudioClassification,
)
from transformers import initialization as init
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPast,
    BaseModelOutputWithPooling,
    CausalLMOutputWithPast,
)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.utils import TransformersKwargs, can_return_tuple

from .configuration_adiff import EAR_WORD_SLOTS, ADiffConfig, ADiffEarConfig

# The name transformers gives the language model's cache, in model outputs and in `forward` arguments: `cache`
# from 5.24 on, `past_key_values` before. This is the one place that knows which release is installed.
CACHE_NAME = "cache" if "cache" in {f.name for f in dataclasses.fields(CausalLMOutputWithPast)} else "past_key_values"


def _take_cache(model: nn.Module, cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The cache `forward` was given under either name. Where the library has renamed it (5.24 on), the old name
    warns as its own models' `forward` does, and `cache` wins if both are given."""
    if past_key_values is not None and CACHE_NAME == "cache":
        warnings.warn(
            f"`past_key_values` is deprecated for `{type(model).__name__}.forward`. Use `cache` instead.",
            FutureWarning,
            stacklevel=3,
        )
    return cache if cache is not None else past_key_values


@dataclasses.dataclass
class ADiffModelOutputWithPast(BaseModelOutputWithPast):
    r"""
    prefix_embeds (`torch.FloatTensor` of shape `(batch_size, num_prefix_tokens, hidden_size)`, *optional*):
        The prefix the language model reads before the answer, when it was computed in this call.
    """

    prefix_embeds: torch.FloatTensor | None = None


@dataclasses.dataclass
class ADiffCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
    [`CausalLMOutputWithPast`] (loss over the labelled answer tokens, logits, the language model's cache, hidden
    states, attentions) and:

    prefix_embeds (`torch.FloatTensor` of shape `(batch_size, num_prefix_tokens, hidden_size)`, *optional*):
        The prefix, when it was computed in this call.
    """

    prefix_embeds: torch.FloatTensor | None = None


def drop_stripes(features: torch.Tensor, dim: int, stripes: int, width: int) -> torch.Tensor:
    """Zero `stripes` random bands of up to `width - 1` positions along `dim`, drawn per example (SpecAugment)."""
    keep = torch.ones_like(features)
    size = features.shape[dim]
    for example in range(features.shape[0]):
        for _ in range(stripes):
            length = int(torch.randint(0, width, ()))
            start = int(torch.randint(0, max(size - length, 1), ()))
            keep[example].narrow(dim - 1, start, min(length, size - start)).zero_()
    return features * keep


class ADiffSpecAugment(nn.Module):
    """SpecAugment on a batch of log-mels `(clips, frames, mel_bins)`, as the release trains HTSAT: `time_stripes`
    bands of up to `time_width - 1` frames and `freq_stripes` bands of up to `freq_width - 1` mel bins, drawn per
    clip. No parameters.

    The release zeroes the bands right after HTSAT's input BatchNorm. Applied before the tower (a public entry
    point), the bands are set to the batch's mean level of each mel bin, which that BatchNorm maps to (about) its
    bias.
    """

    def __init__(self, config: ADiffConfig):
        super().__init__()
        self.time = (config.spec_augment_time_stripes, config.spec_augment_time_width)
        self.freq = (config.spec_augment_freq_stripes, config.spec_augment_freq_width)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        level = features.mean(dim=(0, 1), keepdim=True)
        centred = drop_stripes(features - level, 1, *self.time)
        return level + drop_stripes(centred, 2, *self.freq)


@dataclasses.dataclass
class ADiffEarOutput(BaseModelOutput):
    r"""
    [`BaseModelOutput`] of the ear: `last_hidden_state` is `(batch_size, 2, time_frames, hidden_size)`, each clip's
    tokens in time order, and

    pooler_output (`torch.FloatTensor` of shape `(batch_size, 2, hidden_size)`):
        Each clip's tokens averaged over time.
    change_logits (`(batch_size, num_change_classes)`), clip_logits (`(batch_size, 2)`), strength_logits
    (`(batch_size, num_strength_buckets)`), kind_logits (`(batch_size, 2, num_kinds)`):
        The heads' scores, when the ear carries them (`config.label_words`); classes in the order of its words.
    """

    pooler_output: torch.FloatTensor | None = None
    change_logits: torch.FloatTensor | None = None
    clip_logits: torch.FloatTensor | None = None
    strength_logits: torch.FloatTensor | None = None
    kind_logits: torch.FloatTensor | None = None


class ADiffEarModel(PreTrainedModel):
    """ADIFF's comparing ear: each clip of a pair encoded next to its partner, by a small CNN trained from scratch.

    Clip *i* of a pair is read as three channels, `[mel_i, mel_j, mel_i - mel_j]` (the log-mel on a fixed dB scale,
    so level stays visible), through conv blocks that halve frequency (and, as `time_strides` say, time), then each
    time step's channels and remaining bins become one token of `hidden_size`, with a residual temporal conv for
    context. Comparing frame by frame before pooling is what lets a small network hear a change.

    Input: `(batch_size, 2, frames, mel_bins)` log-mel pairs in dB, ADIFF's front end (`ADiffFeatureExtractor`).

    With `config.label_words`, the ear also carries the heads of its pretraining stage: on each clip's tokens, mean-
    and max-pooled, a pair layer and then the change, changed-clip and strength heads, and a per-clip kind head.
    """

    config_class = ADiffEarConfig
    config: ADiffEarConfig
    base_model_prefix = "ear"
    main_input_name = "input_features"
    input_modalities = ("audio",)
    # no attention layer: every implementation computes the same, so a model-wide "sdpa" request holds here too
    _supports_sdpa = True

    def __init__(self, config: ADiffEarConfig):
        super().__init__(config)
        blocks, channels = [], 3
        for index, (width, stride) in enumerate(zip(config.channels, config.time_strides, strict=True)):
            layers = [nn.Conv2d(channels, width, 3, stride=(stride, 2), padding=1, bias=False), nn.BatchNorm2d(width)]
            layers.append(nn.ReLU())
            if index > 0:  # the first block stays single: it runs at full resolution
                layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        bins = config.num_mel_bins // 2 ** len(config.channels)
        self.token_projection = nn.Linear(channels * bins, config.hidden_size)
        self.temporal = nn.Conv1d(config.hidden_size, config.hidden_size, 5, padding=2)
        self.layer_norm = nn.LayerNorm(config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        if config.label_words is not None:
            width, words = config.hidden_size, config.label_words
            self.pair_head = nn.Sequential(nn.Linear(4 * width, width), nn.GELU(), nn.Dropout(config.dropout))
            self.change_head = nn.Linear(width, len(words["change"]))
            self.clip_head = nn.Linear(width, len(words["clip"]))
            self.strength_head = nn.Linear(width, len(words["strength"]))
            self.kind_head = nn.Linear(2 * width, len(words["kind"]))
        self.post_init()

    def forward(self, input_features: torch.Tensor, **kwargs) -> ADiffEarOutput:
        if input_features.dim() != 4 or input_features.shape[1] != 2:
            raise ValueError(
                "The ear reads pairs: input_features must have shape (batch_size, 2, frames, mel_bins); got "
                f"{tuple(input_features.shape)}."
            )
        batch = input_features.shape[0]
        levels = (input_features + self.config.level_offset) / self.config.level_scale
        first, second = levels[:, 0], levels[:, 1]
        hidden = torch.cat(
            (torch.stack((first, second, first - second), 1), torch.stack((second, first, second - first), 1))
        )  # (2 * batch, 3, frames, bins): clip 1 of every pair, then clip 2
        for block in self.blocks:
            hidden = block(hidden)
        tokens = self.token_projection(hidden.permute(0, 2, 1, 3).flatten(2))  # (2 * batch, time, hidden)
        tokens = tokens + F.gelu(self.temporal(tokens.transpose(1, 2))).transpose(1, 2)
        tokens = self.dropout(self.layer_norm(tokens))
        tokens = tokens.view(2, batch, *tokens.shape[1:]).transpose(0, 1)
        output = ADiffEarOutput(last_hidden_state=tokens, pooler_output=tokens.mean(dim=2))
        if self.config.label_words is not None:
            clips = torch.cat((output.pooler_output, tokens.amax(dim=2)), dim=-1)  # (batch, 2, 2 * hidden)
            pair = self.pair_head(clips.flatten(1))
            output.change_logits = self.change_head(pair)
            output.clip_logits = self.clip_head(pair)
            output.strength_logits = self.strength_head(pair)
            output.kind_logits = self.kind_head(clips)
        return output


class ADiffAudioProjection(nn.Module):
    """`linear1` -> GELU -> `linear2` -> dropout, residual with `linear1`'s output, then LayerNorm."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float):
        super().__init__()
        self.linear1 = nn.Linear(in_dim, out_dim, bias=False)
        self.linear2 = nn.Linear(out_dim, out_dim, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(out_dim)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        embed1 = self.linear1(hidden_states)
        embed2 = self.dropout(self.linear2(F.gelu(embed1)))
        return self.layer_norm(embed1 + embed2)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unmasked attention written out as matrix products, what `attn_implementation="eager"` runs in ADIFF's mappers
    and cross-projection.

    `query`, `key` and `value` are `(batch, heads, length, head_dim)`; returns the attended values, `(batch, length,
    heads, head_dim)`, and the attention weights, `(batch, heads, length, length)`, as every function of transformers'
    `AttentionInterface` does. ADIFF's attention has no mask and no dropout, so `attention_mask` is always `None`.
    """
    weights = torch.softmax(torch.matmul(query, key.transpose(2, 3)) * scaling, dim=-1, dtype=torch.float32)
    weights = weights.to(query.dtype)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


class ADiffAttention(nn.Module):
    """Multi-head self-attention with bias-free query and fused key/value projections (ClipCap's layout).

    The attention itself is the function of transformers' `AttentionInterface` that `config._attn_implementation`
    names, read at every call, so `set_attn_implementation` switches it with the rest of the model: SDPA by default
    (the release's computation), [`eager_attention_forward`] for `"eager"`.
    """

    def __init__(self, config: ADiffConfig, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden size {dim} is not divisible by the number of heads {num_heads}")
        self.config = config
        self.num_heads = num_heads
        # SDPA's own default scale, computed as torch computes it: the release called SDPA without one
        self.scaling = 1 / math.sqrt(dim // num_heads)
        self.is_causal = False
        self.to_queries = nn.Linear(dim, dim, bias=False)
        self.to_keys_values = nn.Linear(dim, 2 * dim, bias=False)
        self.project = nn.Linear(dim, dim)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch, length, dim = hidden_states.shape
        head_dim = dim // self.num_heads
        queries = self.to_queries(hidden_states).view(batch, length, self.num_heads, head_dim).transpose(1, 2)
        keys_values = self.to_keys_values(hidden_states).view(batch, length, 2, self.num_heads, head_dim)
        keys, values = keys_values.permute(2, 0, 3, 1, 4).unbind(0)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attended, _ = attention_interface(self, queries, keys, values, None, scaling=self.scaling, dropout=0.0)
        return self.project(attended.reshape(batch, length, dim))


class ADiffMLP(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.dropout(F.relu(self.fc1(hidden_states)))))


class ADiffTransformerLayer(GradientCheckpointingLayer):
    """Pre-norm transformer layer."""

    def __init__(self, config: ADiffConfig, dim: int, num_heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ADiffAttention(config, dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = ADiffMLP(dim, int(dim * mlp_ratio), dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states + self.attn(self.norm1(hidden_states))
        return hidden_states + self.mlp(self.norm2(hidden_states))


class ADiffTransformer(nn.Module):
    """`num_layers` [`ADiffTransformerLayer`]s; `config` is the model's, whose `_attn_implementation` they follow."""

    def __init__(
        self, config: ADiffConfig, dim: int, num_heads: int, num_layers: int, mlp_ratio: float, dropout: float
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            ADiffTransformerLayer(config, dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers)
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return hidden_states


class ADiffMapper(nn.Module):
    """Appends `prefix_length` learned tokens to its input tokens, runs a transformer, keeps the learned positions.

    With `input_dim` (the audio mappers), the input is one vector per example, `(batch, input_dim)`, first expanded
    by `linear` into `clip_length` tokens; or, with `config.audio_time_segments=K`, K time segments per example,
    `(batch, K, input_dim)`, each made one token by `segment_linear` plus its learned `segment_embeddings` row (so
    the transformer knows their order). Without `input_dim`, the input is already a token sequence (the text
    mapper). With a `mapper_hidden_size` below the language model's width, the transformer runs at that width
    between an `input_projection` (text mapper) and an `output_projection` back to the LM width; the release has
    neither.
    """

    def __init__(self, config: ADiffConfig, input_dim: int | None = None):
        super().__init__()
        model_dim = config.text_config.hidden_size
        dim = config.mapper_hidden_size or model_dim
        self.clip_length = config.audio_clip_length
        if input_dim is not None and config.audio_time_segments is not None:
            self.segment_linear = nn.Linear(input_dim, dim)
            self.segment_embeddings = nn.Parameter(torch.zeros(config.audio_time_segments, dim))
        elif input_dim is not None:
            self.linear = nn.Linear(input_dim, self.clip_length * dim)
        elif dim != model_dim:
            self.input_projection = nn.Linear(model_dim, dim)
        self.prefix_const = nn.Parameter(torch.randn(config.prefix_length, dim))
        self.transformer = ADiffTransformer(
            config,
            dim,
            config.mapper_num_heads,
            config.mapper_num_layers,
            config.mapper_mlp_ratio,
            config.mapper_dropout,
        )
        if dim != model_dim:
            self.output_projection = nn.Linear(dim, model_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "segment_linear"):
            inputs = self.segment_linear(inputs) + self.segment_embeddings.to(inputs.dtype)
        elif hasattr(self, "linear"):
            inputs = self.linear(inputs).view(inputs.shape[0], self.clip_length, -1)
        elif hasattr(self, "input_projection"):
            inputs = self.input_projection(inputs)
        learned = self.prefix_const.unsqueeze(0).expand(inputs.shape[0], -1, -1).to(inputs.dtype)
        hidden_states = self.transformer(torch.cat((inputs, learned), dim=1))[:, inputs.shape[1] :]
        if hasattr(self, "output_projection"):
            hidden_states = self.output_projection(hidden_states)
        return hidden_states


GPT2_SPACE_TOKEN_ID = 220


def release_generation_defaults(config: ADiffConfig) -> dict:
    """Decoding as the release does it: greedy, at most 300 new tokens, stopping at the first token of
    `" <|endoftext|>"` (a lone space, 220, for GPT-2) or at the end token itself.

    The language model's keys and values go to transformers' static cache, allocated once for the prefix and the
    new tokens and written in place (a dynamic cache is re-concatenated at every step). To pass a cache object of
    your own to `generate()`, also pass `cache_implementation=None`.
    """
    end_id = config.text_config.eos_token_id
    end_ids = end_id if isinstance(end_id, list) else [end_id if end_id is not None else config.separator_token_id]
    if config.text_config.model_type == "gpt2":
        end_ids = [GPT2_SPACE_TOKEN_ID, *end_ids]
    return {
        "do_sample": False,
        "num_beams": 1,
        "max_new_tokens": 300,
        "eos_token_id": end_ids,
        "pad_token_id": end_ids[-1],
        "cache_implementation": "static",
    }


class ADiffPreTrainedModel(PreTrainedModel):
    config_class = ADiffConfig
    config: ADiffConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = True
    # the language model's and the audio tower's own blocks are added from the submodels by `post_init`
    _no_split_modules = ["ADiffTransformerLayer", "ClapAudioLayer"]
    # the cache is not moved between devices under a device map, under either release's name for it
    _skip_keys_device_placement = ["cache", "past_key_values"]
    # eager and SDPA, in the mappers and cross-projection as in the language model; HTSAT itself is eager only
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        # the spread the library gives linear layers
        std = getattr(self.config.get_text_config(), "initializer_range", None) or 0.02
        from_inputs = self.config.prefix_init == "inputs"
        if isinstance(module, ADiffMapper):
            # the release draws them with torch.randn; "inputs" keeps them on the scale of what the mapper reads
            init.normal_(module.prefix_const, mean=0.0, std=std if from_inputs else 1.0)
            if hasattr(module, "segment_embeddings"):
                # so positions and contents start on one scale
                init.normal_(module.segment_embeddings, mean=0.0, std=std)
        if getattr(module, "starts_at_zero", False):
            init.zeros_(module.weight)
            init.zeros_(module.bias)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # `register_for_auto_class` records only the saved class; loading with trust_remote_code needs them all.
        self.config.auto_map = {
            "AutoConfig": "configuration_adiff.ADiffConfig",
            "AutoModel": "modeling_adiff.ADiffModel",
            "AutoModelForMultimodalLM": "modeling_adiff.ADiffForConditionalGeneration",
            "AutoProcessor": "processing_adiff.ADiffProcessor",
        }
        return super().save_pretrained(save_directory, *args, **kwargs)


class ADiffModel(ADiffPreTrainedModel):
    """ADIFF without the language-modeling head: audio tower, projection, mappers, cross-projection and LM body.

    `input_features` hold one pair per example, in the layout of the audio tower's own front end:
    - HTSAT (`ClapAudioModel`, the release's tower): `(batch_size, 2, frames, mel_bins)`, 1001 x 64 log-mel in dB;
    - a Whisper encoder: `(batch_size, 2, mel_bins, frames)`, Whisper's 80 x 3000 log-mel (its 30 s window).
    """

    def __init__(self, config: ADiffConfig):
        super().__init__(config)
        self.spec_augment = None
        if config.audio_config.model_type == "whisper":
            # transformers exports no Whisper encoder class: take the encoder of its smallest public model built on it
            self.audio_tower = WhisperForAudioClassification(config.audio_config).encoder
        elif config.audio_config.model_type == ADiffEarConfig.model_type:
            self.audio_tower = ADiffEarModel(config.audio_config)
        else:
            self.audio_tower = ClapAudioModel(config.audio_config)
            self.spec_augment = ADiffSpecAugment(config)
        self.audio_projection = ADiffAudioProjection(
            config.audio_embed_dim, config.projection_dim, config.projection_dropout
        )
        # the model's own config: its attention layers read `_attn_implementation` from it at every call
        self.audio_mapper_1 = ADiffMapper(self.config, input_dim=config.projection_dim)
        self.audio_mapper_2 = ADiffMapper(self.config, input_dim=config.projection_dim)
        self.text_mapper = ADiffMapper(self.config)
        dim = config.text_config.hidden_size
        self.cross_projection = ADiffTransformer(
            self.config,
            dim,
            config.cross_num_heads,
            config.cross_num_layers,
            config.cross_mlp_ratio,
            config.mapper_dropout,
        )
        if config.prefix_init == "inputs":
            # the cross-projection starts as the identity: each prefix token is what its mapper made of its input
            for layer in self.cross_projection.layers:
                layer.attn.project.starts_at_zero = layer.mlp.fc2.starts_at_zero = True
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()

    def _run_audio_tower(
        self, input_features: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> tuple[BaseModelOutput, torch.Tensor]:
        """The audio tower's output, its last and hidden states regrouped per pair (`(batch_size, 2, ...)`), and the
        clip embeddings made from it (see [`~ADiffModel.get_clip_embeddings`]). `kwargs` (`output_hidden_states`,
        `output_attentions`) go to the tower."""
        if input_features.dim() != 4 or input_features.shape[1] != 2:
            raise ValueError(
                "input_features must have shape (batch_size, 2, frames, mel_bins), one pair per example; "
                f"got {tuple(input_features.shape)}."
            )
        batch, pair, frames, bins = input_features.shape
        clips = input_features.reshape(batch * pair, frames, bins).to(self.audio_tower.dtype)
        segments = self.config.audio_time_segments
        if self.config.audio_config.model_type == ADiffEarConfig.model_type:  # the ear reads both clips of a pair
            output = self.audio_tower(input_features.to(self.audio_tower.dtype), **kwargs)
            tokens = output.last_hidden_state.reshape(batch * pair, *output.last_hidden_state.shape[2:])
            if segments is None:
                pooled = tokens.mean(dim=1)
            else:
                pooled = F.adaptive_avg_pool1d(tokens.transpose(1, 2), segments).transpose(1, 2)
            # one output per pair already; the ear records no hidden states or attentions
            return output, pooled.reshape(batch, pair, *pooled.shape[1:])
        if self.config.audio_config.model_type == "whisper":  # (clips, mel_bins, frames); mean over the heard frames
            output = self.audio_tower(input_features=clips, return_dict=True, **kwargs)
            heard = output.last_hidden_state[:, : self.config.audio_embed_frames]  # (clips, frames, hidden)
            if segments is None:
                pooled = heard.mean(dim=1)
            else:
                pooled = F.adaptive_avg_pool1d(heard.transpose(1, 2), segments).transpose(1, 2)
        else:  # HTSAT: (clips, 1, frames, mel_bins); its pooled output is the clip embedding
            if self.audio_tower.training:  # as the release, only while the tower itself trains
                clips = self.spec_augment(clips)
            output = self.audio_tower(input_features=clips.unsqueeze(1), return_dict=True, **kwargs)
            if segments is None:
                pooled = output.pooler_output
            else:  # its final map is (clips, hidden, frequency, time), in time order; pooler_output is its mean
                time_map = output.last_hidden_state.mean(dim=2)
                pooled = F.adaptive_avg_pool1d(time_map, segments).transpose(1, 2)

        def per_pair(value):
            if isinstance(value, torch.Tensor):
                return value.reshape(batch, pair, *value.shape[1:])
            return None if value is None else tuple(per_pair(item) for item in value)

        output = BaseModelOutput(
            last_hidden_state=per_pair(output.last_hidden_state),
            hidden_states=per_pair(output.hidden_states),
            attentions=output.attentions,  # HTSAT's are per window, not per clip: as the tower gives them
        )
        return output, per_pair(pooled)

    def get_clip_embeddings(self, input_features: torch.Tensor) -> torch.Tensor:
        """What the audio tower makes of each clip, before the projection: `(batch_size, 2, audio_embed_dim)`, or
        `(batch_size, 2, audio_time_segments, audio_embed_dim)` when the config sets `audio_time_segments` (the
        heard frames mean-pooled into that many equal consecutive time segments).

        With a frozen tower these can be computed once and passed as `audio_embeds` instead of `input_features`.

        Args:
            input_features (`torch.FloatTensor` of shape `(batch_size, 2, frames, mel_bins)`): the log-mel pairs
                (`(batch_size, 2, mel_bins, frames)` for a Whisper tower, as its feature extractor makes them).
        """
        return self._run_audio_tower(input_features)[1]

    @can_return_tuple
    def get_audio_features(
        self,
        input_features: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
    ) -> tuple | BaseModelOutputWithPooling:
        """The audio as the mappers read it, with what the audio tower computed on the way, as transformers' audio
        language models return it from their `get_audio_features`.

        Args:
            input_features: the log-mel pairs (see [`~ADiffModel.get_clip_embeddings`]), or
            audio_embeds (`torch.FloatTensor` of shape `(batch_size, 2, audio_embed_dim)`, or `(batch_size, 2,
                audio_time_segments, audio_embed_dim)` with time segments): the audio tower's clip embeddings,
                precomputed.
            output_hidden_states (`bool`, *optional*), output_attentions (`bool`, *optional*): passed to the audio
                tower (unset, its own config decides). The comparing ear records neither: they stay `None`.
            return_dict (`bool`, *optional*): a [`BaseModelOutputWithPooling`] (the default, `config.return_dict`)
                or a tuple of its fields that are not `None`.

        Returns:
            [`BaseModelOutputWithPooling`]:
            - `pooler_output`: the projected (and, as configured, L2-normalised) clip embeddings, `(batch_size, 2,
              projection_dim)`, or `(batch_size, 2, audio_time_segments, projection_dim)` with time segments (each
              segment projected and normalised on its own);
            - `last_hidden_state`, `hidden_states`: the audio tower's, each clip's regrouped with its partner's,
              `(batch_size, 2, ...)` in the tower's own layout (HTSAT: `(hidden_size, frequency, time)` per clip;
              Whisper and the ear: `(time, hidden_size)`);
            - `attentions`: the audio tower's as it returns them, over the `2 * batch_size` clips (clip *j* of pair
              *i* at `2 * i + j`; HTSAT's are per window of each clip).

            The tower's outputs are `None` with `audio_embeds` (the tower does not run), and where it does not record
            them.
        """
        if (input_features is None) == (audio_embeds is None):
            raise ValueError("Give exactly one of input_features (log-mels) or audio_embeds (clip embeddings).")
        if audio_embeds is None:
            # only what was asked for: an explicit None would override the tower config's own setting
            flags = {"output_hidden_states": output_hidden_states, "output_attentions": output_attentions}
            tower, audio_embeds = self._run_audio_tower(
                input_features, **{k: v for k, v in flags.items() if v is not None}
            )
        else:
            tower = BaseModelOutput(last_hidden_state=None)
            segments = self.config.audio_time_segments
            per_clip = (self.config.audio_embed_dim,) if segments is None else (segments, self.config.audio_embed_dim)
            if tuple(audio_embeds.shape[1:]) != (2, *per_clip):
                layout = (
                    "one vector per clip (audio_time_segments=None)"
                    if segments is None
                    else f"{segments} time segments per clip (audio_time_segments={segments})"
                )
                raise ValueError(
                    f"audio_embeds must have shape (batch_size, 2, {', '.join(map(str, per_clip))}): this model "
                    f"takes {layout}; got {tuple(audio_embeds.shape)}. Compute them with get_clip_embeddings."
                )
        embeds = self.audio_projection(audio_embeds.to(self.audio_projection.linear1.weight.dtype))
        if self.config.normalize_audio_embeds:
            # eps keeps a zero vector finite where the release divides by a zero norm
            embeds = F.normalize(embeds, dim=-1)
        return BaseModelOutputWithPooling(
            last_hidden_state=tower.last_hidden_state,
            pooler_output=embeds,
            hidden_states=tower.hidden_states,
            attentions=tower.attentions,
        )

    def get_prefix_embeds(
        self,
        input_ids: torch.LongTensor | None,
        input_features: torch.Tensor | None = None,
        audio_embeds: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The `(batch_size, num_prefix_tokens, hidden_size)` prefix the language model decodes from.

        The prompt is `input_ids`, or its word embeddings `inputs_embeds`, `(batch_size, prompt_length,
        hidden_size)`."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(
                "input_ids (the prompt, as prepared by ADiffProcessor) are required with input_features: give them, "
                "or their embeddings as inputs_embeds, not both."
            )
        prompt = input_ids if input_ids is not None else inputs_embeds
        if prompt.shape[1] != self.config.prompt_length:
            raise ValueError(
                f"the prompt must be exactly prompt_length={self.config.prompt_length} tokens (padded with "
                f"{self.config.prompt_pad_token_id}); got {prompt.shape[1]}. Prepare it with ADiffProcessor."
            )
        pairs = (input_features if input_features is not None else audio_embeds).shape[0]
        if prompt.shape[0] != pairs:
            raise ValueError(f"{prompt.shape[0]} prompts for {pairs} audio pairs: one prompt per pair.")
        word_embeddings = self.get_input_embeddings()
        separator_id = self.config.separator_token_id
        vocabulary = word_embeddings.weight.shape[0]
        if not 0 <= separator_id < vocabulary:
            raise ValueError(
                f"separator_token_id={separator_id} is not in the language model's vocabulary of {vocabulary} "
                "embeddings (after resize_token_embeddings?): set "
                "config.separator_token_id to a token the vocabulary keeps."
            )
        ear_words = None
        if self.config.ear_word_prefix:
            if input_features is None:
                raise ValueError(
                    "This model reads the ear's heads (ear_word_prefix): give input_features, not audio_embeds."
                )
            tower, audio_embeds = self._run_audio_tower(input_features)
            ear_words = self.get_ear_word_embeds(tower)
            input_features = None
        audio = self.get_audio_features(input_features, audio_embeds, return_dict=True).pooler_output
        audio_1 = self.audio_mapper_1(audio[:, 0])
        audio_2 = self.audio_mapper_2(audio[:, 1])
        prompt_embeds = word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        text = self.text_mapper(prompt_embeds)
        separator = word_embeddings(torch.full((prompt.shape[0], 1), separator_id, device=prompt.device))
        prefix = self.cross_projection(torch.cat((audio_1, separator.to(audio_1.dtype), audio_2, text), dim=1))
        if self.config.prefix_norm is not None:
            # every token on one fixed length: none can grow into a constant the language model only leans on
            prefix = F.normalize(prefix, dim=-1) * self.config.prefix_norm
        if self.config.prompt_words:
            prefix = torch.cat((prefix, prompt_embeds.to(prefix.dtype)), dim=1)
        if ear_words is not None:
            prefix = torch.cat((prefix, ear_words.to(prefix.dtype)), dim=1)
        return prefix

    def get_ear_word_embeds(self, tower: ADiffEarOutput) -> torch.Tensor:
        """The ear's heads read as words (`config.ear_word_prefix`): `(batch_size, len(EAR_WORD_SLOTS),
        hidden_size)`, each slot the posterior-weighted mean of the word embeddings of its head's classes (audio 1's
        kind of source, audio 2's, the changed clip, the change)."""
        if self.config.ear_word_token_ids is None:
            raise ValueError(
                "ear_word_prefix is set but config.ear_word_token_ids is not: build the model with "
                "build_model_from_backbones, which tokenizes the ear's label words."
            )
        word_embeddings = self.get_input_embeddings()
        device = word_embeddings.weight.device
        tables = {
            head: torch.stack(
                [word_embeddings(torch.tensor(ids, device=device)).mean(dim=0) for ids in token_ids]
            ).float()
            for head, token_ids in self.config.ear_word_token_ids.items()
            if head in EAR_WORD_SLOTS  # the strength head is not read
        }
        posteriors = {
            "change": tower.change_logits.float().softmax(-1),
            "clip": tower.clip_logits.float().softmax(-1),
            "kind": tower.kind_logits.float().softmax(-1),  # (batch, 2, kinds)
        }
        kinds = posteriors["kind"] @ tables["kind"]
        return torch.stack(
            (kinds[:, 0], kinds[:, 1], posteriors["clip"] @ tables["clip"], posteriors["change"] @ tables["change"]),
            dim=1,
        )

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        answer_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ADiffModelOutputWithPast:
        r"""
        input_ids (`torch.LongTensor`):
            With `input_features`: the prompt, `(batch_size, prompt_length)`, as made by [`ADiffProcessor`].
            Without: tokens that continue a cached prefix (what `generate()` passes after the first step).
        inputs_embeds (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`, *optional*):
            The word embeddings of `input_ids`, in their place: with `input_features`, the prompt's (`sequence_length`
            is `prompt_length`); without, what the language model reads (a prefix, or tokens continuing one).
        input_features (`torch.FloatTensor` of shape `(batch_size, 2, frames, mel_bins)`, *optional*):
            The two clips' log-mel spectrograms. Given, the prefix is computed and the language model reads it.
        answer_ids (`torch.LongTensor` of shape `(batch_size, answer_length)`, *optional*):
            Tokens placed after the prefix (teacher forcing).
        cache ([`Cache`], *optional*):
            The language model's keys and values so far. `past_key_values` is the same argument under the name
            transformers used before 5.24; either name works on every supported release (from 5.24 on, the old one
            warns, as the library's own models do).
        audio_embeds (`torch.FloatTensor` of shape `(batch_size, 2, audio_embed_dim)`, *optional*):
            Precomputed clip embeddings of the audio tower, in place of `input_features`; `(batch_size, 2,
            audio_time_segments, audio_embed_dim)` when the config sets `audio_time_segments`.
        kwargs ([`TransformersKwargs`], *optional*):
            Passed to the language model (`output_hidden_states`, `output_attentions`, `use_cache`, ...), and
            `return_dict`. Its hidden states and attentions are those of the `num_prefix_tokens`-long prefix and
            what follows it.
        """
        cache = _take_cache(self, cache, past_key_values)
        prefix_embeds = None
        if input_features is not None or audio_embeds is not None:
            prefix_embeds = self.get_prefix_embeds(input_ids, input_features, audio_embeds, inputs_embeds)
            inputs_embeds = prefix_embeds
            if answer_ids is not None:
                answer_embeds = self.get_input_embeddings()(answer_ids).to(prefix_embeds.dtype)
                inputs_embeds = torch.cat((prefix_embeds, answer_embeds), dim=1)
            input_ids = None
            attention_mask = None  # the release attends to the whole prefix and the answer, unpadded on the left
        elif answer_ids is not None:
            raise ValueError("answer_ids need input_features: they continue the audio prefix.")
        outputs = self.language_model(
            input_ids=input_ids,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            return_dict=True,
            **{CACHE_NAME: cache},
            **kwargs,
        )
        return ADiffModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            prefix_embeds=prefix_embeds,
            **{CACHE_NAME: getattr(outputs, CACHE_NAME)},
        )


class ADiffForConditionalGeneration(ADiffPreTrainedModel, GenerationMixin):
    """ADIFF with its language-modeling head: explains how two audio clips differ, or captions them.

    Example:

    ```python
    >>> import adiff_hf, transformers
    >>> model = transformers.AutoModelForMultimodalLM.from_pretrained("path/to/converted/adiff")
    >>> processor = transformers.AutoProcessor.from_pretrained("path/to/converted/adiff")
    >>> inputs = processor(text=["explain the difference between the two audio in detail"],
    ...                    audio=[("dog.wav", "cat.wav")], return_tensors="pt")
    >>> ids = model.generate(**inputs)
    >>> processor.batch_decode(ids, skip_special_tokens=True)
    ```
    """

    def __init__(self, config: ADiffConfig):
        super().__init__(config)
        self.model = ADiffModel(config)
        # tie the head to whatever the language model calls its word embeddings (GPT-2: wte, Llama: embed_tokens)
        embeddings = self.model.language_model.get_input_embeddings()
        name = next(n for n, m in self.model.language_model.named_modules() if m is embeddings)
        self._tied_weights_keys = {"lm_head.weight": f"model.language_model.{name}.weight"}
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self.generation_config.update(**release_generation_defaults(config))

    def get_clip_embeddings(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.model.get_clip_embeddings(input_features)

    def get_audio_features(
        self,
        input_features=None,
        audio_embeds=None,
        output_hidden_states=None,
        output_attentions=None,
        return_dict=None,
    ) -> tuple | BaseModelOutputWithPooling:
        return self.model.get_audio_features(
            input_features,
            audio_embeds,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=return_dict,
        )

    def get_prefix_embeds(
        self, input_ids: torch.LongTensor | None, input_features=None, audio_embeds=None, inputs_embeds=None
    ) -> torch.Tensor:
        return self.model.get_prefix_embeds(input_ids, input_features, audio_embeds, inputs_embeds)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        answer_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        past_key_values: Cache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> ADiffCausalLMOutputWithPast:
        r"""
        input_ids, input_features, answer_ids, cache (or `past_key_values`), audio_embeds: see
        [`ADiffModel.forward`].
        labels (`torch.LongTensor` of shape `(batch_size, num_prefix_tokens + answer_length)`, *optional*):
            Targets aligned with the language model's input (prefix, then answer), -100 on the prefix and on
            padding, as made by `ADiffProcessor(..., answer=...)`. With `input_features` and no `answer_ids`, the
            answer tokens fed to the model are read from `labels` (shifted by the loss, as for any causal LM).
        logits_to_keep (`int` or `torch.Tensor`, *optional*, defaults to 0):
            Compute logits only for the last `logits_to_keep` positions (0: all), or for these indices.
        """
        cache = _take_cache(self, cache, past_key_values)
        num_prefix = self.config.num_prefix_tokens
        has_audio = input_features is not None or audio_embeds is not None
        if labels is not None and has_audio and answer_ids is None:
            if labels.shape[1] <= num_prefix or (labels[:, :num_prefix] != -100).any():
                raise ValueError(
                    f"labels must cover the {num_prefix} prefix positions with -100 and then the answer tokens "
                    f"(got shape {tuple(labels.shape)}); make them with ADiffProcessor(..., answer=...)."
                )
            answer_ids = labels[:, num_prefix:].masked_fill(labels[:, num_prefix:] < 0, self.config.prompt_pad_token_id)
        outputs = self.model(
            input_ids=input_ids,
            input_features=input_features,
            audio_embeds=audio_embeds,
            answer_ids=answer_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        positions = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(outputs.last_hidden_state[:, positions])
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return ADiffCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            prefix_embeds=outputs.prefix_embeds,
            **{CACHE_NAME: getattr(outputs, CACHE_NAME)},
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor | None = None,
        input_features: torch.FloatTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        audio_embeds: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ):
        """Explain the difference between each pair: [`~GenerationMixin.generate`] on the audio-and-prompt prefix.

        The prefix is computed once per pair, before any beam or sample expansion (which is all this override
        adds); the returned sequences hold only the new tokens (decode them with `ADiffProcessor.batch_decode`).
        Every decoding mode, cache and argument of `generate()` applies (the default cache is transformers' static
        one: see [`release_generation_defaults`]). Alternatively pass a precomputed prefix as `inputs_embeds`
        (with `input_features`, `inputs_embeds` are the prompt's word embeddings, as in `forward`).
        """
        if input_features is not None or audio_embeds is not None:
            inputs_embeds = self.get_prefix_embeds(input_ids, input_features, audio_embeds, inputs_embeds)
            attention_mask = None  # a prompt mask from a tokenizer does not describe the prefix
        elif inputs_embeds is None:
            raise ValueError(
                "generate() needs input_features (and the prompt as input_ids) or a prefix as inputs_embeds."
            )
        if attention_mask is None:  # the prefix is never padded; the library cannot tell (its pad id is the end id)
            attention_mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        return super().generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)


__all__ = [
    "ADiffPreTrainedModel",
    "ADiffEarModel",
    "ADiffModel",
    "ADiffForConditionalGeneration",
]
