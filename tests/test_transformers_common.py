"""transformers' own common model and config tests (`ModelTesterMixin`, `ConfigTester`) run against ADIFF.

The mixins come from the PyPI sdist of the installed transformers release (see tests/common_suite.py); the tester is
built like transformers' in-tree audio-LM testers (qwen2_audio, audioflamingo3): a tiny config and random inputs.
ADIFF's language model reads a prefix of `num_prefix_tokens` embeddings (two audio prefixes, a separator, the text
prefix) made from the audio pair and the prompt, so the sequence the language model sees, and whose hidden states and
attentions the common tests check, is `num_prefix_tokens` long whatever the prompt length.
"""

import contextlib
import unittest

import torch

from adiff_hf import ADiffConfig, ADiffForConditionalGeneration, ADiffModel
from common_suite import ConfigTester, ModelTesterMixin, floats_tensor, ids_tensor


class ADiffModelTester:
    def __init__(
        self,
        parent,
        batch_size=3,
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        prompt_length=7,
        prefix_length=4,
        frames=64,
        mel_bins=64,
        is_training=True,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.prompt_length = prompt_length
        self.prefix_length = prefix_length
        self.frames = frames
        self.mel_bins = mel_bins
        self.is_training = is_training
        # low ids for the special tokens, as transformers' testers choose them (audioflamingo3: audio token 0, pad 1),
        # so that they stay in the vocabulary when test_resize_tokens_embeddings shrinks it
        self.pad_token_id = 0
        self.separator_token_id = 1
        # GPT-2, at toy size; n_positions covers the prefix and an answer
        self.text_config = {
            "model_type": "gpt2",
            "vocab_size": vocab_size,
            "n_embd": hidden_size,
            "n_layer": num_hidden_layers,
            "n_head": num_attention_heads,
            "n_positions": 64,
            "bos_token_id": self.separator_token_id,
            "eos_token_id": self.separator_token_id,
        }
        # HTSAT (ClapAudioModel) at toy size: a 128 x 128 spectrogram image, one layer per stage
        self.audio_config = {
            "num_mel_bins": mel_bins,
            "spec_size": 128,
            "patch_embeds_hidden_size": 8,
            "depths": [1, 1, 1, 1],
            "num_attention_heads": [1, 1, 2, 2],
            "window_size": 4,
        }
        # what the language model reads: audio 1, separator, audio 2, text
        self.seq_length = 3 * prefix_length + 1
        # one answer per tester, so that every call of _prepare_for_class gives the same labels
        self.answer_ids = ids_tensor([batch_size, 3], vocab_size - 2) + 2

    def get_config(self):
        return ADiffConfig(
            audio_config=self.audio_config,
            text_config=self.text_config,
            projection_dim=16,
            projection_dropout=0.0,
            audio_clip_length=4,
            prefix_length=self.prefix_length,
            prompt_length=self.prompt_length,
            mapper_num_layers=1,
            mapper_num_heads=2,
            cross_num_layers=1,
            cross_num_heads=2,
            separator_token_id=self.separator_token_id,
            prompt_pad_token_id=self.pad_token_id,
        )

    def prepare_config_and_inputs(self):
        config = self.get_config()
        # log-mel pairs in dB, ADIFF's feature extractor's layout: (batch, 2, frames, mel_bins)
        input_features = floats_tensor([self.batch_size, 2, self.frames, self.mel_bins], scale=60.0) - 60.0
        return config, input_features

    def prepare_config_and_inputs_for_common(self):
        config, input_features = self.prepare_config_and_inputs()
        # the prompt, exactly prompt_length tokens, as ADiffProcessor pads it (never the separator id)
        input_ids = ids_tensor([self.batch_size, self.prompt_length], self.vocab_size - 2) + 2
        inputs_dict = {"input_ids": input_ids, "input_features": input_features}
        return config, inputs_dict

    def labels(self):
        """Targets as ADiffProcessor(..., answer=...) makes them: -100 over the prefix, then the answer tokens."""
        prefix = torch.full((self.batch_size, self.seq_length), -100, dtype=torch.long)
        return torch.cat((prefix, self.answer_ids), dim=1)


class ADiffModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (ADiffModel, ADiffForConditionalGeneration)
    _is_composite = True
    # the mixin expects the tower's width from audio_config.projection_dim, CLAP's own projection, which ADIFF does
    # not use; HTSAT's last_hidden_state is (hidden_size, frequency, time) per clip
    skip_test_audio_features_output_shape = True
    # test_eager_matches_sdpa_inference feeds only main_input_name (the prompt) without this: with the audio, the
    # mappers' and cross-projection's attention is compared too
    additional_model_inputs = ["input_features"]

    def setUp(self):
        self.model_tester = ADiffModelTester(self)
        self.config_tester = ConfigTester(self, config_class=ADiffConfig, has_text_modality=False)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        # The mixin adds labels to the classes transformers' own auto mappings list (causal LM, image-text-to-text,
        # ...), which an out-of-tree model is not in; ADIFF's labels cover the prefix and the answer after it.
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels and model_class is ADiffForConditionalGeneration:
            inputs_dict["labels"] = self.model_tester.labels()
        return inputs_dict

    @contextlib.contextmanager
    def _with_a_head_only(self):
        """The training tests leave base models out by their place in transformers' MODEL_MAPPING_NAMES, which an
        out-of-tree model is not in: run them on the class with the language-modeling head, as they would."""
        every_class = self.all_model_classes
        self.all_model_classes = tuple(c for c in every_class if c is not ADiffModel)
        try:
            yield
        finally:
            self.all_model_classes = every_class

    def test_training(self):
        with self._with_a_head_only():
            super().test_training()

    def check_training_gradient_checkpointing(self, gradient_checkpointing_kwargs=None):
        with self._with_a_head_only():
            super().check_training_gradient_checkpointing(gradient_checkpointing_kwargs)

    def test_inputs_embeds_matches_input_ids(self):
        # The mixin runs this only on the base classes in transformers' MODEL_MAPPING_NAMES (so on none of ADIFF's):
        # the same check, on both classes. With input_features, inputs_embeds are the prompt's word embeddings.
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class(config).eval()
            inputs = dict(inputs_dict)
            input_ids = inputs.pop("input_ids")
            with torch.no_grad():
                out_ids = model(input_ids=input_ids, **inputs)[0]
                out_embeds = model(inputs_embeds=model.get_input_embeddings()(input_ids), **inputs)[0]
            torch.testing.assert_close(out_embeds, out_ids)

    def _audio_features_get_expected_num_attentions(self, model_tester=None):
        # HTSAT records one attention map per stage (its last block's), and one hidden state per stage plus the input
        return len(self.model_tester.audio_config["depths"])

    def test_can_set_attention_dynamically(self):
        # The mixin skips a model with a part that lacks SDPA, as HTSAT (ClapAudioModel) does: run it on ADIFF's other
        # tower, a Whisper encoder, where the mappers, the tower and the language model all switch.
        self.model_tester.audio_config = {
            "model_type": "whisper",
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "num_mel_bins": 80,
        }
        super().test_can_set_attention_dynamically()

    def test_config(self):
        self.config_tester.run_common_tests()

    @unittest.skip(reason="the sdist ships no GenerationTesterMixin; ADIFF's generate() is tested in its own tests")
    def test_generation_tester_mixin_inheritance(self):
        pass


if __name__ == "__main__":
    unittest.main()
