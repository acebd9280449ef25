"""The local dataset's sources from Debian sound packages: their files, each labelled from its package and name,
plus the rendered ones; and the packages kept out of training for the unseen-source split."""

import os
import re

from ..changes import Source

# kept out of training and validation: the unseen-source test split
from ..pair_stream import DEFAULT_UNSEEN_PACKAGES
from .packages import DEBIAN_SOURCES, package_files, package_license
from .render import render_drum_patterns, render_soundfont_melodies, render_speech

# sonic-pi-samples: a sample's name prefix -> its label
SONIC_PI_PREFIXES = {
    "ambi": "an ambient texture",
    "bass": "a bass note",
    "bd": "a bass drum",
    "drum": "a drum",
    "elec": "an electronic sound",
    "glitch": "a glitchy electronic sound",
    "guit": "a guitar",
    "loop": "a rhythmic loop",
    "mehackit": "an electronic sound",
    "misc": "a sound effect",
    "perc": "a percussion hit",
    "sn": "a snare drum",
    "tabla": "a tabla",
    "vinyl": "a vinyl record sound",
    "arovane": "an electronic beat",
    "hat": "a hi-hat",
}
# sound-icons: the words of its (partly Czech) file names -> English
SOUND_ICON_WORDS = {
    "cembalo": "harpsichord",
    "klavichord": "clavichord",
    "xylofon": "xylophone",
    "violoncello": "cello",
    "cymbaly": "cimbalom",
    "pisk": "squeak",
    "cink": "ding",
    "cockchafer gentleman": "beetle",
    "gummy cat": "squeaky toy",
}


def _words(stem: str) -> str:
    return re.sub(r"[-_]+", " ", re.sub(r"[-_]?\d+$", "", stem)).strip()


def _quoted(words: str, what: str) -> str:
    """ "an 'alarm' sound", "a 'bell' sound"."""
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} '{words}' {what}"


def _file_label(package: str, stem: str) -> tuple[str, str] | None:
    """(label, kind) of a file of a file-labelled package, or None to leave the file out."""
    if package == "tuxpaint-stamps-default":
        # sound effects only: spoken descriptions end in _desc[_xx] and language-coded names in _xx
        if "_desc" in stem or re.search(r"_[a-z]{2}(_[A-Z]{2})?$", stem):
            return None
        return f"a {_words(stem)}", "sound"
    if package == "sonic-pi-samples":
        prefix = stem.split("_")[0]
        return SONIC_PI_PREFIXES.get(prefix, f"a {_words(stem)} sample"), "music"
    if package in ("sound-theme-freedesktop", "yaru-theme-sound"):
        return _quoted(_words(stem), "notification sound"), "sound"
    if package == "asterisk-core-sounds-en-wav":
        return f"a woman saying '{_words(stem)}'", "speech"
    if package == "sound-icons":
        words = _words(stem)
        for foreign, english in SOUND_ICON_WORDS.items():
            words = words.replace(foreign, english)
        return f"a short {words} sound", "music" if words not in ("squeak", "squeak ding", "beetle") else "sound"
    if package == "oxygen-sounds":
        if not stem.startswith("Oxygen-"):
            return None
        return _quoted(_words(stem[len("Oxygen-") :]).lower(), "notification sound"), "sound"
    if package == "gnome-audio":
        return _quoted(_words(stem), "sound"), "sound"
    return None


def discover_debian_sources(render_dir: str | None = None) -> list[Source]:
    """Labelled clips from the Debian sound packages present (`debian.install_debian_packages` installs them).

    With `render_dir`, the rendered sources (soundfont melodies, espeak-ng speech, hydrogen drum patterns) are
    written there and included.
    """
    sources = []
    for package, root in DEBIAN_SOURCES.items():
        if not os.path.isdir(root):
            continue
        license = package_license(package)
        for path in package_files(package, root):
            stem, ext = os.path.splitext(os.path.basename(path))
            if ext.lower() not in (".wav", ".ogg", ".oga", ".flac"):
                continue
            labelled = _file_label(package, stem)
            if labelled:
                sources.append(Source(path, labelled[0], package, license, labelled[1]))
    if render_dir is not None:
        sources += render_soundfont_melodies(os.path.join(render_dir, "melodies"))
        sources += render_speech(os.path.join(render_dir, "speech"))
        sources += render_drum_patterns(os.path.join(render_dir, "drums"))
    return sources


__all__ = ["DEFAULT_UNSEEN_PACKAGES", "discover_debian_sources"]
