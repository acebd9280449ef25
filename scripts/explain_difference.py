"""Explain how two recordings differ with an ADIFF model directory (converted or trained).

python scripts/explain_difference.py --model adiff-base-hf dog.wav cat.wav [--tier detail]
"""

import argparse

import transformers

import adiff_hf  # noqa: F401  (registers ADIFF with the Auto classes)
from adiff_hf.prompts import TIER_PROMPTS


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio1")
    parser.add_argument("audio2")
    parser.add_argument("--model", required=True, help="model directory or Hub id")
    parser.add_argument("--tier", choices=sorted(TIER_PROMPTS), default="detail")
    parser.add_argument("--prompt", default=None, help="a prompt of your own instead of --tier")
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    args = parser.parse_args(argv)

    model = transformers.AutoModelForMultimodalLM.from_pretrained(args.model).eval()
    processor = transformers.AutoProcessor.from_pretrained(args.model)
    inputs = processor(text=args.prompt or TIER_PROMPTS[args.tier], audio=(args.audio1, args.audio2))
    generate_kwargs = {"num_beams": args.num_beams}
    if args.max_new_tokens is not None:
        generate_kwargs["max_new_tokens"] = args.max_new_tokens
    print(processor.batch_decode(model.generate(**inputs, **generate_kwargs))[0])


if __name__ == "__main__":
    main()
