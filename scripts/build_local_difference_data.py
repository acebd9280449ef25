"""Build a difference dataset (ACD schema) from labelled sounds that install offline from Debian.

    python scripts/build_local_difference_data.py data/local --install --train 2000 --validation 60 \
        --test 150 --test-unseen 200

Sources: sound effects, notification sounds, instrument samples and speech from Debian packages, plus melodies
rendered from a General MIDI soundfont (fluidsynth), espeak-ng speech and hydrogen drum patterns (rendered into
`<output_dir>/sources`). `--install` apt-installs the missing packages (needs root). The packages named by
`--unseen-packages` are kept out of training entirely: they make the `test_unseen` split.
Writes audio/, one CSV and one `_pairs.jsonl` per split, and manifest.json (sources and their licences).
"""

import argparse
import os

from adiff_hf.data.local import DEFAULT_UNSEEN_PACKAGES, build_difference_dataset, discover_debian_sources


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir")
    parser.add_argument("--install", action="store_true", help="apt-get install the source packages that are missing")
    parser.add_argument("--train", type=int, default=2000, help="pairs (each gives three tiers)")
    parser.add_argument("--validation", type=int, default=60)
    parser.add_argument("--test", type=int, default=150)
    parser.add_argument("--test-unseen", type=int, default=200, help="pairs from the unseen packages (0: none)")
    parser.add_argument(
        "--unseen-packages",
        default=",".join(DEFAULT_UNSEEN_PACKAGES),
        help="comma-separated packages kept out of training, for the test_unseen split",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.install:
        from adiff_hf.data.local.debian import install_debian_packages

        install_debian_packages()
    sources = discover_debian_sources(render_dir=os.path.join(args.output_dir, "sources"))
    if not sources:
        raise SystemExit("No source sounds found: install the Debian packages (or pass --install as root).")
    splits = {"train": args.train, "validation": args.validation, "test": args.test}
    unseen = tuple(p for p in args.unseen_packages.split(",") if p) if args.test_unseen else ()
    if unseen:
        splits["test_unseen"] = args.test_unseen
    report = build_difference_dataset(
        sources, args.output_dir, splits, seed=args.seed, unseen_packages=unseen, progress=True
    )
    for split, path in report.splits.items():
        kinds = ", ".join(f"{k} {n}" for k, n in report.kinds[split].items())
        print(f"{split}: {report.pairs[split]} pairs ({kinds}) from {report.sources[split]} source clips -> {path}")


if __name__ == "__main__":
    main()
