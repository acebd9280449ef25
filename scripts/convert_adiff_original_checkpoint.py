"""Convert the original ADIFF release checkpoint into a Hugging Face model directory.

    python scripts/convert_adiff_original_checkpoint.py --checkpoint adiff_base.pth --output adiff-base-hf \
        [--text-config gpt2_config.json] [--tokenizer gpt2]
"""

import argparse

import torch

from adiff_hf.conversion import convert_checkpoint


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="the release's .pth state dict")
    parser.add_argument("--output", required=True, help="directory to write the converted model and processor to")
    parser.add_argument(
        "--text-config", default=None, help="GPT-2 config.json for what the tensors cannot tell (default: GPT-2 base)"
    )
    parser.add_argument(
        "--tokenizer", default="gpt2", help="GPT-2 tokenizer directory or Hub id (default: gpt2, from the local cache)"
    )
    parser.add_argument("--mapper-heads", type=int, default=8, help="attention heads of the mappers (release: 8)")
    parser.add_argument(
        "--cross-heads", type=int, default=4, help="attention heads of the cross-projection (release: 4)"
    )
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    args = parser.parse_args(argv)
    convert_checkpoint(
        args.checkpoint,
        args.output,
        text_config=args.text_config,
        tokenizer=args.tokenizer,
        mapper_num_heads=args.mapper_heads,
        cross_num_heads=args.cross_heads,
        dtype=getattr(torch, args.dtype),
    )


if __name__ == "__main__":
    main()
