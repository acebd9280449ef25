"""ADIFF's audio front end for its HTSAT tower: CLAP's log-mel feature extractor with ADIFF's values and input
handling. (A Whisper tower uses transformers' own `WhisperFeatureExtractor`.)"""

import numpy as np
import torch
from transformers import BatchFeature, ClapFeatureExtractor, TensorType

from .audio_io import CROP_MODES, fit_clip, is_single_clip, load_clip, prepare_waveform


class ADiffFeatureExtractor(ClapFeatureExtractor):
    r"""
    ADIFF's front end: mono 32 kHz audio, exactly 10 s, 64-bin log-mel (n_fft 1024, hop 320, Hann window,
    slaney mel filters from 50 Hz to 14 kHz, power spectrogram in dB without top-db clipping) -> 1001 x 64 frames.

    It adds to [`ClapFeatureExtractor`], which computes the spectrogram:
    - any number of channels (downmixed) and any sampling rate (resampled);
    - clips shorter than 10 s are tiled and cut, like the release (`padding="repeat"`);
    - clips longer than 10 s are cropped deterministically by default (`crop="start"` or `"center"`); the
      release's random crop is `crop="random"`, meant for training.

    Args:
        crop (`str`, *optional*, defaults to `"start"`):
            Where to cut clips longer than `max_length_s`: `"start"`, `"center"` or `"random"`.
        Other arguments are those of [`ClapFeatureExtractor`], with ADIFF's values as defaults.
    """

    model_input_names = ["input_features"]

    def __init__(
        self,
        feature_size: int = 64,
        sampling_rate: int = 32_000,
        hop_length: int = 320,
        max_length_s: int = 10,
        fft_window_size: int = 1024,
        padding_value: float = 0.0,
        return_attention_mask: bool = False,
        frequency_min: float = 50,
        frequency_max: float = 14_000,
        top_db: int | None = None,
        truncation: str = "rand_trunc",
        padding: str = "repeat",
        crop: str = "start",
        front_end: str = "htsat",
        **kwargs,
    ):
        if front_end != "htsat":  # directories saved before Whisper towers took transformers' own extractor
            raise ValueError(
                f"ADiffFeatureExtractor is HTSAT's front end only (got front_end={front_end!r}); a Whisper tower "
                "takes transformers' WhisperFeatureExtractor in ADiffProcessor. Rebuild or reassemble this model."
            )
        if truncation == "fusion":
            raise ValueError("ADIFF's HTSAT does not use feature fusion: truncation='fusion' is not supported.")
        if crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}.")
        super().__init__(
            feature_size=feature_size,
            sampling_rate=sampling_rate,
            hop_length=hop_length,
            max_length_s=max_length_s,
            fft_window_size=fft_window_size,
            padding_value=padding_value,
            return_attention_mask=return_attention_mask,
            frequency_min=frequency_min,
            frequency_max=frequency_max,
            top_db=top_db,
            truncation=truncation,
            padding=padding,
            **kwargs,
        )
        self.crop = crop

    def _htsat_features(self, waveforms: list[np.ndarray]) -> np.ndarray:
        """[`ClapFeatureExtractor`]'s log-mel for the whole batch with `torch.stft`, with the same numbers.

        CLAP's extractor runs a Python loop over the 1001 frames of each clip; this is its computation batched:
        float64 frames, spectra kept as complex64 as it keeps them, power, Slaney mel filters, floor 1e-10, dB.
        """
        padded = [np.asarray(clip, dtype=np.float64) for clip in waveforms]
        window = torch.hann_window(self.fft_window_size, periodic=True, dtype=torch.float64)
        filters = torch.from_numpy(self.mel_filters_slaney)
        features = []
        for start in range(0, len(padded), 4):  # a few clips at a time: the complex128 spectra stay in cache
            spectra = torch.stft(
                torch.from_numpy(np.stack(padded[start : start + 4])),
                n_fft=self.fft_window_size,
                hop_length=self.hop_length,
                window=window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )
            # (clips, frames, bins) is the STFT's memory layout; spectra are rounded to complex64 as CLAP keeps them
            spectra = spectra.transpose(1, 2).to(torch.complex64).to(torch.complex128)
            mel = (spectra.real.square() + spectra.imag.square()) @ filters
            features.append((10.0 * torch.log10(mel.clamp_(min=1e-10))).to(torch.float32))
        return torch.cat(features)[:, None].numpy()  # (clips, 1, frames, mel_bins)

    def fetch_audio(self, audio, sampling_rate: int | None = None):
        """Load a clip (or a list of clips) to mono float32 at `sampling_rate` (default: 32 kHz).

        Used by transformers' pipelines (`any-to-any`); clips are read by `audio_io.load_clip`, as the processor
        reads them, so errors name the file. Arrays are taken to be at `sampling_rate` already.
        """
        rate = sampling_rate or self.sampling_rate
        if not is_single_clip(audio):
            return [self.fetch_audio(item, sampling_rate=rate) for item in audio]
        return load_clip(audio, rate, rate)

    def __call__(
        self,
        raw_speech,
        sampling_rate: int | None = None,
        crop: str | None = None,
        return_tensors: str | TensorType | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Featurise one waveform or a list of waveforms (1-D mono or 2-D multichannel arrays).

        Args:
            raw_speech: a waveform or a list of waveforms.
            sampling_rate (`int`, *optional*): their sampling rate; defaults to the extractor's (32 kHz).
            crop (`str`, *optional*): overrides `self.crop` for this call.
            return_tensors (`str`, *optional*): `"pt"` or `"np"`.

        Returns:
            [`BatchFeature`] with `input_features` of shape `(batch, 1, frames, mel_bins)`.
        """
        crop = crop if crop is not None else self.crop
        rate = sampling_rate if sampling_rate is not None else self.sampling_rate
        single = not isinstance(raw_speech, (list, tuple))
        waveforms = [raw_speech] if single else list(raw_speech)
        if not waveforms:
            raise ValueError("raw_speech is an empty list: nothing to featurise.")
        waveforms = [
            prepare_waveform(w, rate, self.sampling_rate, name=f"raw_speech[{i}]") for i, w in enumerate(waveforms)
        ]
        waveforms = [fit_clip(w, self.nb_max_samples, crop, self.padding) for w in waveforms]
        if self.truncation == "rand_trunc" and not kwargs:
            features = BatchFeature({"input_features": self._htsat_features(waveforms)})
        else:  # options this fast path does not cover go through CLAP's own extractor
            features = super().__call__(waveforms, sampling_rate=self.sampling_rate, **kwargs)
            features = BatchFeature({"input_features": np.asarray(features["input_features"], dtype=np.float32)})
        return features.convert_to_tensors(return_tensors) if return_tensors is not None else features


__all__ = ["ADiffFeatureExtractor"]
