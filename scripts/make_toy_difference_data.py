"""Write a toy difference dataset (synthetic clips + train/validation CSVs in the ACD schema) to smoke-test training.

python scripts/make_toy_difference_data.py data/toy --num-clips 24 --train-pairs 12 --validation-pairs 4
"""

import argparse

from adiff_hf.data import make_toy_difference_data


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir")
    parser.add_argument("--num-clips", type=int, default=24)
    parser.add_argument("--train-pairs", type=int, default=12)
    parser.add_argument("--validation-pairs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    splits = {"train": args.train_pairs, "validation": args.validation_pairs}
    for split, path in make_toy_difference_data(args.output_dir, args.num_clips, splits, seed=args.seed).items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
