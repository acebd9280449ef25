"""A difference dataset built from real, labelled audio that installs offline (Debian packages), in the ACD schema.
`scripts/build_local_difference_data.py` is its command line.

Sources, each labelled from its package ([`~adiff_hf.data.local.sources`]):
- sound effects, notification sounds, instrument samples and recorded speech, labelled from their file names
  (tuxpaint-stamps-default, sonic-pi-samples, sound-theme-freedesktop, asterisk-core-sounds-en-wav, sound-icons,
  oxygen-sounds, yaru-theme-sound, gnome-audio);
- rendered ([`~adiff_hf.data.local.render`]): instrument melodies from a General MIDI soundfont through `fluidsynth`
  (fluid-soundfont-gm), sentences in several `espeak-ng` voices, and drum patterns from the instruments of
  hydrogen-drumkits' kits (labelled from each kit's `drumkit.xml`).

Pairs are those of the package's pair stream (`adiff_hf.data.pair_stream`, which training draws from without
end), written down for measurement ([`~adiff_hf.data.local.writing`]): one source and a copy changed in one or two
controlled ways (field-library effects from Spotify's `pedalboard` and others: reverb, echo, low/high-pass, pitch
shift at the same tempo, time stretch at the same pitch, distortion, bitcrush, dynamic-range compression, GSM/MP3
codec artefacts; and gain, speed, noise at an SNR, clipping, reversal, a gap of silence; several implementations
of most), strengths drawn from ranges; identical and near-identical pairs (a change below audibility), whose
answers say there is no audible difference; and pairs of two different sources.

Every answer is written from the *known* attributes, in three tiers that differ in kind: a few words; one sentence
naming the clip, the change and its size; a paragraph on what is heard, how it differs and how it would strike a
listener, with varied phrasing. Splits are by source clip, and whole packages can be kept out of training as an
unseen-source split (`test_unseen`). Everything is deterministic given the seed; a manifest records sources and
licences, and `<split>_pairs.jsonl` the known attributes of each pair, for attribute scoring.

The names below load on first use, as in `adiff_hf.data`. Installing the packages (`apt-get`) is
[`~adiff_hf.data.local.debian.install_debian_packages`], which only the recipe's `--install` imports.
"""

from ...lazy_exports import lazy_exports

_EXPORTS = {
    "DEFAULT_MIX": "writing",
    "DEFAULT_UNSEEN_PACKAGES": "sources",
    "PAIR_KINDS": "writing",
    "BuildReport": "writing",
    "build_difference_dataset": "writing",
    "discover_debian_sources": "sources",
    "render_drum_patterns": "render",
    "render_soundfont_melodies": "render",
    "render_speech": "render",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
