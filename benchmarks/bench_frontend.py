"""Audio front end and encoder throughput, and where the time of one explanation goes before decoding.

On `pairs` pairs of 10 s clips (random audio, random weights): the feature extractor (batched torch STFT) against
`ClapFeatureExtractor`'s per-clip loop (identical features required), then the audio encoder, the projection +
mappers + cross-projection, and the language model's prefill over the prefix.

    python benchmarks/bench_frontend.py --pairs 8
"""

import argparse
import json

import numpy as np
import torch
from bench_decoding import DETAIL_PROMPT, timed
from transformers import ClapFeatureExtractor, WhisperFeatureExtractor

from adiff_hf import ADiffConfig, ADiffFeatureExtractor, ADiffForConditionalGeneration


def frontend_split(model, pairs: int = 8, seed: int = 0) -> dict:
    config, device = model.config, model.device
    whisper = config.audio_config.model_type == "whisper"
    if whisper:  # 10 s clips in Whisper's 30 s window
        extractor = WhisperFeatureExtractor(feature_size=config.audio_config.num_mel_bins, sampling_rate=16_000)
    else:
        extractor = ADiffFeatureExtractor()
    samples = 10 * extractor.sampling_rate
    rng = np.random.default_rng(seed)
    clips = [(0.1 * rng.standard_normal(samples)).astype(np.float32) for _ in range(2 * pairs)]
    extractor(clips[:2], sampling_rate=extractor.sampling_rate)  # first-call set-up
    features_s, features = timed(
        lambda: extractor(clips, sampling_rate=extractor.sampling_rate, return_tensors="np")["input_features"],
        torch.device("cpu"),
    )
    result = {"pairs": pairs, "clips": 2 * pairs, "feature_extraction_s": round(features_s, 4)}
    if not whisper:
        reference_s, reference = timed(
            lambda: ClapFeatureExtractor.__call__(extractor, clips, sampling_rate=extractor.sampling_rate),
            torch.device("cpu"),
        )
        reference = np.asarray(reference["input_features"], dtype=np.float32)
        result["clap_per_clip_loop_s"] = round(reference_s, 4)
        result["feature_extraction_speedup"] = round(reference_s / features_s, 2)
        result["features_identical"] = bool(np.array_equal(features, reference))
    features = torch.from_numpy(features).view(pairs, 2, *features.shape[-2:]).to(device, model.dtype)
    prompt = (DETAIL_PROMPT + [0] * config.prompt_length)[: config.prompt_length]
    prompts = torch.tensor([prompt] * pairs, device=device)
    with torch.no_grad():
        model.get_clip_embeddings(features[:1])
        encoder_s, embeds = timed(lambda: model.get_clip_embeddings(features), device)
        mappers_s, prefix = timed(lambda: model.get_prefix_embeds(prompts, audio_embeds=embeds), device)
        prefill_s, _ = timed(lambda: model(inputs_embeds=prefix, logits_to_keep=1), device)
    stages = {
        "feature_extraction": features_s,
        "audio_encoder": encoder_s,
        "projection_mappers_cross": mappers_s,
        "lm_prefill": prefill_s,
    }
    total = sum(stages.values())
    result |= {
        "encoder_s": round(encoder_s, 4),
        "mappers_s": round(mappers_s, 4),
        "lm_prefill_s": round(prefill_s, 4),
        "clips_per_s_front_end_and_encoder": round(2 * pairs / (features_s + encoder_s), 2),
        "share": {name: round(seconds / total, 3) for name, seconds in stages.items()},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(json.dumps(frontend_split(ADiffForConditionalGeneration(ADiffConfig()).eval(), args.pairs), indent=2))


if __name__ == "__main__":
    main()
