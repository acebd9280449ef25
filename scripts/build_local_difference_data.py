"""Build a difference dataset (ACD schema) from labelled sounds that install offline from Debian.

    python scripts/build_local_difference_data.py data/local --install --train 400 --validation 50 --test 100

Sources: tuxpaint-stamps-default (sound effects), sonic-pi-samples (instruments, drums), sound-theme-freedesktop
(event sounds), asterisk-core-sounds-en-wav (speech). `--install` apt-installs the missing ones (needs root).
Writes audio/, train.csv, validation.csv, test.csv and manifest.json (sources and their licences).
"""

import argparse

from local_difference_data import build_difference_dataset, discover_debian_sources


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir")
    parser.add_argument("--install", action="store_true", help="apt-get install the source packages that are missing")
    parser.add_argument("--train", type=int, default=400, help="pairs (each gives three tiers)")
    parser.add_argument("--validation", type=int, default=50)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--change-fraction", type=float, default=0.6, help="share of same-source changed pairs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sources = discover_debian_sources(install=args.install)
    if not sources:
        raise SystemExit("No source sounds found: install the Debian packages (or pass --install as root).")
    report = build_difference_dataset(
        sources,
        args.output_dir,
        {"train": args.train, "validation": args.validation, "test": args.test},
        change_fraction=args.change_fraction,
        seed=args.seed,
    )
    for split, path in report.splits.items():
        print(f"{split}: {report.pairs[split]} pairs from {report.sources[split]} source clips -> {path}")


if __name__ == "__main__":
    main()
