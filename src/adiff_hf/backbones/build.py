"""A new ADIFF around pretrained backbones: the audio encoder and language model loaded, the new parts initialised.

Kept apart from `training` so that assembling a model needs neither `datasets` nor `accelerate`.
"""

import json
import logging

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    ClapAudioConfig,
    ClapAudioModel,
    ClapConfig,
    ClapModel,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperModel,
)

from ..configuration_adiff import ADiffConfig, ADiffEarConfig
from ..feature_extraction_adiff import ADiffFeatureExtractor
from ..modeling_adiff import ADiffEarModel, ADiffForConditionalGeneration
from ..processing_adiff import ADiffProcessor

logger = logging.getLogger(__name__)

# ADIFF hears 10 s of each clip, as the release does; with a Whisper tower, the first 10 s of Whisper's 30 s window
# (the frames `ADiffConfig.audio_embed_frames` pools)
WHISPER_CLIP_SECONDS = 10.0


def build_model_from_backbones(
    audio_encoder: str | None,
    text_decoder: str | None,
    tokenizer_name: str | None = None,
    config_overrides: str | dict | None = None,
) -> tuple[ADiffForConditionalGeneration, ADiffProcessor]:
    """A new ADIFF around pretrained backbones: new projection, mappers and cross-projection.

    The audio encoder is a CLAP/HTSAT audio model (the release's), a Whisper model (its encoder is used) or an ADIFF
    ear (`ADiffEarModel`, from the ear stage); without one, the tower is built from `config_overrides["audio_config"]`
    with fresh weights (an ear whose weights ship in an exported head, for instance). The text
    decoder is any causal LM transformers loads (GPT-2, Llama-family such as SmolLM2, ...).
    """
    if text_decoder is None:
        raise ValueError("Give --model_name_or_path (a saved ADIFF model) or --text_decoder (and --audio_encoder).")
    text_config = AutoConfig.from_pretrained(text_decoder)
    audio, whisper = None, False
    if audio_encoder is not None:
        audio_config = AutoConfig.from_pretrained(audio_encoder)
        if isinstance(audio_config, ClapConfig):
            audio = ClapModel.from_pretrained(audio_encoder).audio_model
        elif isinstance(audio_config, ClapAudioConfig):
            audio = ClapAudioModel.from_pretrained(audio_encoder)
        elif isinstance(audio_config, WhisperConfig):
            audio, whisper = WhisperModel.from_pretrained(audio_encoder).get_encoder(), True
        elif isinstance(audio_config, ADiffEarConfig):  # the ear of an ear stage (`output_dir/ear`)
            audio = ADiffEarModel.from_pretrained(audio_encoder)
        else:
            raise ValueError(
                f"--audio_encoder {audio_encoder} is a {audio_config.model_type!r} model; give a CLAP "
                "(HTSAT) audio model, a CLAP model, a Whisper model or an ADIFF ear directory."
            )
    try:
        overrides = json.loads(config_overrides) if isinstance(config_overrides, str) else dict(config_overrides or {})
    except json.JSONDecodeError as err:
        raise ValueError(f"--config_overrides is not valid JSON: {err}") from None
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or text_decoder)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"The tokenizer of {text_decoder} has no end token: ADIFF needs one.")
    if overrides.get("ear_word_prefix") and "ear_word_token_ids" not in overrides and audio is not None:
        # each class of the ear's heads as the language model's tokens for its words (" louder", " audio 2")
        words = getattr(audio.config, "label_words", None) or {}
        overrides["ear_word_token_ids"] = {
            head: [tokenizer(" " + word, add_special_tokens=False).input_ids for word in names]
            for head, names in words.items()
        }
    gpt2 = text_config.model_type == "gpt2"
    # GPT-2 keeps the release's prompt padding ("!", id 0); other LMs pad prompts with their pad (or end) token
    pad_id = 0 if gpt2 else (tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    config = ADiffConfig(
        audio_config=audio.config.to_dict() if audio is not None else overrides.pop("audio_config", None),
        text_config=text_config.to_dict(),
        separator_token_id=tokenizer.eos_token_id,
        prompt_pad_token_id=pad_id,
        **overrides,
    )
    model = ADiffForConditionalGeneration(config)
    if audio is not None:
        model.model.audio_tower.load_state_dict(audio.state_dict())
    elif config.audio_config.model_type != ADiffEarConfig.model_type:  # an ear's weights come with its head
        logger.warning("No --audio_encoder: the audio tower starts from random weights.")
    language_model = AutoModelForCausalLM.from_pretrained(text_decoder)
    model.model.language_model.load_state_dict(language_model.base_model.state_dict())
    if not config.tie_word_embeddings or not getattr(text_config, "tie_word_embeddings", True):
        model.lm_head.load_state_dict(language_model.get_output_embeddings().state_dict())
    model.tie_weights()
    if whisper:  # Whisper's own front end; ADIFF hears the first 10 s of its 30 s window, short clips tiled
        extractor = WhisperFeatureExtractor(feature_size=config.audio_config.num_mel_bins, sampling_rate=16_000)
    else:
        extractor = ADiffFeatureExtractor()
    processor = ADiffProcessor(
        extractor,
        tokenizer,
        clip_seconds=WHISPER_CLIP_SECONDS if whisper else None,
        prompt_length=config.prompt_length,
        num_prefix_tokens=config.num_prefix_tokens,
        prompt_pad_token_id=config.prompt_pad_token_id,
        end_of_text=" <|endoftext|>" if gpt2 else tokenizer.eos_token,
    )
    return model, processor


__all__ = ["build_model_from_backbones"]
