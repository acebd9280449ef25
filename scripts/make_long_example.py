"""Build the README's long example from the two shipped clips: two 2-minute recordings of the same scene (the
examples' chimes scattered over a quiet background), audio 2 starting 1.5 s later and holding one added 2 s horn.

    python scripts/make_long_example.py examples/long
    adiff-hf localize examples/long/take1.wav examples/long/take2.wav --plot timeline.png

Prints where the difference really is, to compare with what `adiff-hf localize` finds.
"""

import argparse
import json
import os

from adiff_hf.audio_io import load_audio
from adiff_hf.data.long_pairs import LONG_CHANGES, make_long_pair

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
CLIPS = ("chime.wav", "chime_muffled_reverberant.wav")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", nargs="?", default=os.path.join(EXAMPLES, "long"))
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--change", choices=LONG_CHANGES, default="event")
    parser.add_argument("--offset", type=float, default=1.5, help="seconds audio 2 starts later")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    rate = 16000
    sources = [load_audio(os.path.join(EXAMPLES, name), rate) for name in CLIPS]
    pair = make_long_pair(
        args.output_dir,
        args.minutes,
        args.change,
        offset_seconds=args.offset,
        sampling_rate=rate,
        sources=sources,
        seed=args.seed,
        density=0.3,
        names=("take1.wav", "take2.wav"),
    )
    print(json.dumps(pair.to_dict()))
    return pair


if __name__ == "__main__":
    main()
