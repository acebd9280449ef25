"""A recipe, not library code: a difference dataset built from real, labelled audio that installs offline (Debian
packages), in the ACD schema. `build_local_difference_data.py` is its command line.

Sources, each labelled from its package:
- sound effects, notification sounds, instrument samples and recorded speech, labelled from their file names
  (tuxpaint-stamps-default, sonic-pi-samples, sound-theme-freedesktop, asterisk-core-sounds-en-wav, sound-icons,
  oxygen-sounds, yaru-theme-sound, gnome-audio);
- rendered here: instrument melodies from a General MIDI soundfont through `fluidsynth` (fluid-soundfont-gm),
  sentences in several `espeak-ng` voices, and drum patterns from the instruments of hydrogen-drumkits' kits
  (labelled from each kit's `drumkit.xml`).

Pairs are those of the package's pair stream (`adiff_hf.data.pair_stream`, which training draws from without
end), written down for measurement: one source and a copy changed in one or two controlled ways (field-library
effects from Spotify's `pedalboard` and others: reverb, echo, low/high-pass, pitch shift at the same tempo, time
stretch at the same pitch, distortion, bitcrush, dynamic-range compression, GSM/MP3 codec artefacts; and gain,
speed, noise at an SNR, clipping, reversal, a gap of silence; several implementations of most), strengths drawn
from ranges; identical and near-identical pairs (a change below audibility), whose answers say there is no audible
difference; and pairs of two different sources.

Every answer is written from the *known* attributes, in three tiers that differ in kind: a few words; one sentence
naming the clip, the change and its size; a paragraph on what is heard, how it differs and how it would strike a
listener, with varied phrasing. Splits are by source clip, and whole packages can be kept out of training as an
unseen-source split (`test_unseen`). Everything is deterministic given the seed; a manifest records sources and
licences, and `<split>_pairs.jsonl` the known attributes of each pair, for attribute scoring.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import soundfile as sf

from adiff_hf.audio_io import load_audio
from adiff_hf.data import CSV_COLUMNS

# the changes, their words and the pairs live in the package: training draws the same pairs without end
from adiff_hf.data.changes import RATE, Change, Source, _capital, apply_change, draw_change, draw_two_changes
from adiff_hf.data.pair_stream import DEFAULT_UNSEEN_PACKAGES, STREAM_MIX, DifferencePairStream
from adiff_hf.prompts import CSV_TIER_INPUTS

MAX_SECONDS = 5.0
# packages whose clips are labelled from their file names
DEBIAN_SOURCES = {
    "tuxpaint-stamps-default": "/usr/share/tuxpaint/stamps",
    "sonic-pi-samples": "/usr/share/sonic-pi/samples",
    "sound-theme-freedesktop": "/usr/share/sounds/freedesktop/stereo",
    "asterisk-core-sounds-en-wav": "/usr/share/asterisk/sounds/en_US_f_Allison",
    "sound-icons": "/usr/share/sounds/sound-icons",
    "oxygen-sounds": "/usr/share/sounds",
    "yaru-theme-sound": "/usr/share/sounds/Yaru/stereo",
    "gnome-audio": "/usr/share/sounds",
}
# packages whose sounds are rendered here (plus the program that renders them)
RENDERED_PACKAGES = {
    "fluid-soundfont-gm": "fluidsynth",
    "espeak-ng": "espeak-ng",
    "hydrogen-drumkits": "hydrogen-drumkits",
}
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
HYDROGEN_KITS = "/usr/share/hydrogen/data/drumkits"
# kept out of training and validation: the unseen-source test split
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
# General MIDI programs rendered from the soundfont: program -> instrument
GM_PROGRAMS = {
    0: "piano",
    6: "harpsichord",
    9: "glockenspiel",
    10: "music box",
    11: "vibraphone",
    12: "marimba",
    19: "church organ",
    21: "accordion",
    22: "harmonica",
    24: "nylon-string guitar",
    25: "steel-string guitar",
    32: "acoustic bass",
    40: "violin",
    42: "cello",
    46: "harp",
    47: "timpani",
    52: "choir",
    56: "trumpet",
    57: "trombone",
    60: "French horn",
    65: "alto saxophone",
    68: "oboe",
    71: "clarinet",
    73: "flute",
    75: "pan flute",
    105: "banjo",
    108: "kalimba",
    114: "steel drum",
}
MELODIES_PER_PROGRAM = 4
ESPEAK_VOICES = {
    "en-us+m3": "a man",
    "en-us+f2": "a woman",
    "en-gb+m1": "a man with a British accent",
    "en-gb+f4": "a woman with a British accent",
    "en-gb-scotland+m5": "a man with a Scottish accent",
    "en-029+f3": "a woman with a Caribbean accent",
    "en-gb-x-rp+m7": "a man",
    "en-us+f5": "a woman",
}
SENTENCES = [
    "the train to the city leaves at nine",
    "please close the door behind you",
    "the weather will be sunny tomorrow",
    "I left my keys on the kitchen table",
    "turn left at the next corner",
    "the meeting starts in ten minutes",
    "can you hear the birds outside",
    "dinner is ready, come and eat",
    "the library opens at eight",
    "thank you for calling, please hold",
    "the river is high after the rain",
    "this is the last stop, all change",
    "my phone battery is almost empty",
    "the concert was louder than expected",
    "we should plant the tomatoes in spring",
    "the shop is closed on sundays",
]
DRUM_WORDS = [  # instrument-name keyword -> label, first match wins
    ("kick", "a kick drum"),
    ("bass drum", "a kick drum"),
    ("bassdrum", "a kick drum"),
    ("snare", "a snare drum"),
    ("hi-hat", "a hi-hat"),
    ("hihat", "a hi-hat"),
    ("hat", "a hi-hat"),
    ("hh", "a hi-hat"),
    ("tom", "a tom drum"),
    ("clap", "hand claps"),
    ("crash", "a crash cymbal"),
    ("ride", "a ride cymbal"),
    ("cowbell", "a cowbell"),
    ("djembe", "a djembe"),
    ("cajon", "a cajon"),
    ("maraca", "a maraca"),
    ("bongo", "bongos"),
    ("tambourine", "a tambourine"),
    ("clave", "claves"),
    ("woodblock", "a woodblock"),
    ("snap", "finger snaps"),
    ("stick", "a drumstick click"),
    ("rim", "a rim click"),
]


def _words(stem: str) -> str:
    return re.sub(r"[-_]+", " ", re.sub(r"[-_]?\d+$", "", stem)).strip()


def _package_license(package: str) -> str:
    path = f"/usr/share/doc/{package}/copyright"
    if not os.path.isfile(path):
        return "unknown"
    text = open(path, encoding="utf-8", errors="replace").read()
    licenses = re.findall(r"^\s*License:[ \t]*(\S+)", text, re.M)  # on the same line: "License:" alone has none
    if not licenses and "MIT license" in text:
        licenses = ["MIT"]
    if not licenses and "GNU General Public License" in text:
        licenses = ["GPL-3+" if "version 3" in text else "GPL"]
    return ", ".join(dict.fromkeys(licenses)) or "unknown"


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


def _package_files(package: str, root: str) -> list[str]:
    """The audio files of `package` under `root` (shared folders hold several packages: ask dpkg)."""
    if root == "/usr/share/sounds" and shutil.which("dpkg"):
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
        return sorted(p for p in listing.splitlines() if p.startswith(root + "/") and os.path.isfile(p))
    return sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)


def discover_debian_sources(install: bool = False, render_dir: str | None = None) -> list[Source]:
    """Labelled clips from the Debian sound packages present (`install=True` apt-get installs them first).

    With `render_dir`, the rendered sources (soundfont melodies, espeak-ng speech, hydrogen drum patterns) are
    written there and included.
    """
    if install:
        wanted = [*DEBIAN_SOURCES, "fluidsynth", *RENDERED_PACKAGES]
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted], check=True)
    sources = []
    for package, root in DEBIAN_SOURCES.items():
        if not os.path.isdir(root):
            continue
        license = _package_license(package)
        for path in _package_files(package, root):
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


def _midi_file(notes: list[tuple[int, float]], program: int, path: str) -> None:
    """A one-track standard MIDI file: `notes` (pitch, seconds) played in turn with `program` at 120 bpm."""
    ticks = 480  # per beat; 120 bpm -> 960 ticks per second

    def var(n: int) -> bytes:
        out = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            out.insert(0, (n & 0x7F) | 0x80)
        return bytes(out)

    events = bytes([0x00, 0xC0, program])
    for pitch, seconds in notes:
        events += var(0) + bytes([0x90, pitch, 96]) + var(int(seconds * 2 * ticks)) + bytes([0x80, pitch, 0])
    events += var(0) + b"\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">I", len(events)) + events)


def render_soundfont_melodies(directory: str, soundfont: str = SOUNDFONT) -> list[Source]:
    """Short melodies on General MIDI instruments, rendered with fluidsynth (none if it or the soundfont is absent)."""
    if not (shutil.which("fluidsynth") and os.path.isfile(soundfont)):
        return []
    os.makedirs(directory, exist_ok=True)
    license = _package_license("fluid-soundfont-gm")
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    sources = []
    for program, instrument in GM_PROGRAMS.items():
        base = 40 if program in (32, 42, 47, 57) else 60
        for index in range(MELODIES_PER_PROGRAM):
            path = os.path.join(directory, f"gm{program:03d}_{index}.wav")
            if not os.path.isfile(path):
                rng = np.random.default_rng([program, index])
                notes = [(base + scale[int(rng.integers(8))], float(rng.choice([0.25, 0.5]))) for _ in range(6)]
                midi = path[:-4] + ".mid"
                _midi_file(notes, program, midi)
                command = ["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(RATE), "-F", path, soundfont, midi]
                subprocess.run(command, check=True, capture_output=True)
                os.remove(midi)
            sources.append(
                Source(path, f"a {instrument} playing a short melody", "fluid-soundfont-gm", license, "music")
            )
    return sources


def render_speech(directory: str) -> list[Source]:
    """Sentences in several espeak-ng voices (none if espeak-ng is absent)."""
    if not shutil.which("espeak-ng"):
        return []
    os.makedirs(directory, exist_ok=True)
    license = _package_license("espeak-ng")
    sources = []
    voices = list(ESPEAK_VOICES)
    for index, sentence in enumerate(SENTENCES):
        for offset in range(2):  # two voices per sentence
            voice = voices[(index + offset * 3) % len(voices)]
            path = os.path.join(directory, f"speech{index:02d}_{voice.replace('+', '_')}.wav")
            if not os.path.isfile(path):
                subprocess.run(["espeak-ng", "-v", voice, "-w", path, sentence], check=True, capture_output=True)
            speaker = ESPEAK_VOICES[voice]
            sources.append(Source(path, f"{speaker} saying '{sentence}'", "espeak-ng", license, "speech"))
    return sources


def _drum_label(name: str) -> str | None:
    lowered = name.lower()
    return next((label for word, label in DRUM_WORDS if word in lowered), None)


def render_drum_patterns(directory: str, kits_dir: str = HYDROGEN_KITS) -> list[Source]:
    """Each labelled instrument of each hydrogen drum kit, struck four times (none if the kits are absent)."""
    if not os.path.isdir(kits_dir):
        return []
    os.makedirs(directory, exist_ok=True)
    license = _package_license("hydrogen-drumkits")
    sources = []
    for kit in sorted(os.listdir(kits_dir)):
        xml = os.path.join(kits_dir, kit, "drumkit.xml")
        if not os.path.isfile(xml):
            continue
        seen = set()
        for element in ET.parse(xml).getroot().iter():
            if not element.tag.endswith("instrument"):
                continue
            names = [e.text for e in element if e.tag.endswith("name") and e.text]
            files = [e.text for e in element.iter() if e.tag.endswith("filename") and e.text]
            label = _drum_label(names[0]) if names else None
            if not (label and files) or label in seen or not os.path.isfile(os.path.join(kits_dir, kit, files[0])):
                continue
            seen.add(label)  # one instrument of each kind per kit
            path = os.path.join(directory, f"{re.sub(r'[^A-Za-z0-9]+', '_', kit)}_{len(seen):02d}.wav")
            if not os.path.isfile(path):
                hit = load_audio(os.path.join(kits_dir, kit, files[0]), RATE)[: int(0.45 * RATE)]
                step = int(0.5 * RATE)
                pattern = np.zeros(4 * step, dtype=np.float32)
                for beat in range(4):
                    pattern[beat * step : beat * step + len(hit)] += hit
                sf.write(path, pattern, RATE, subtype="PCM_16")
            sources.append(Source(path, f"{label} struck four times", "hydrogen-drumkits", license, "music"))
    return sources


def _split_sources(
    sources: list[Source], pairs_per_split: dict[str, int], seed: int, unseen_packages=()
) -> dict[str, list[Source]]:
    """Each source clip goes to exactly one split.

    Sources of `unseen_packages` all go to the split `test_unseen` (which must be in `pairs_per_split`); the others
    are shared among the remaining splits in a seeded hash order, sizes in proportion, at least 2 each.
    """
    unseen = [s for s in sources if s.package in unseen_packages]
    if unseen_packages:
        if "test_unseen" not in pairs_per_split:
            raise ValueError("unseen_packages need a 'test_unseen' split in pairs_per_split.")
        if len(unseen) < 2:
            raise ValueError(f"The unseen packages {list(unseen_packages)} hold {len(unseen)} clips; 2 at least.")
    seen = [s for s in sources if s.package not in unseen_packages]
    splits = [s for s in pairs_per_split if not (unseen_packages and s == "test_unseen")]
    if len(seen) < 2 * len(splits):
        raise ValueError(f"{len(seen)} source clips are too few for {len(splits)} splits (2 each at least).")
    order = sorted(seen, key=lambda s: hashlib.sha256(f"{seed}:{s.path}".encode()).hexdigest())
    total = sum(pairs_per_split[s] for s in splits)
    sizes = [max(2, round(len(order) * pairs_per_split[s] / total)) for s in splits]
    sizes[0] = len(order) - sum(sizes[1:])  # the first split (train) takes the rest
    if sizes[0] < 2:
        raise ValueError(f"{len(seen)} source clips are too few for the splits {pairs_per_split}.")
    result, start = {}, 0
    for split, size in zip(splits, sizes, strict=True):
        result[split] = sorted(order[start : start + size], key=lambda s: s.path)
        start += size
    if unseen_packages:
        result["test_unseen"] = sorted(unseen, key=lambda s: s.path)
    return result


@dataclass
class BuildReport:
    splits: dict[str, str] = field(default_factory=dict)  # split -> CSV path
    pairs: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> pair kind -> count


PAIR_KINDS = tuple(STREAM_MIX)  # change, two_changes, identical, near_identical, sources
DEFAULT_MIX = {"change": 0.55, "two_changes": 0.1, "identical": 0.06, "near_identical": 0.06, "sources": 0.23}


def _write_source(source: Source, wave: np.ndarray, split: str, output_dir: str) -> str:
    """The source clip as the dataset hears it (mono, 32 kHz, peak-normalised), written once per split."""
    digest = hashlib.sha256(source.path.encode()).hexdigest()[:12]
    relative = os.path.join("audio", "sources", f"{split}_{digest}.wav")
    target = os.path.join(output_dir, relative)
    if not os.path.isfile(target):
        sf.write(target, wave, RATE, subtype="PCM_16")
    return relative


def build_difference_dataset(
    sources: list[Source],
    output_dir: str | os.PathLike,
    pairs_per_split: dict[str, int] | None = None,
    mix: dict[str, float] | None = None,
    seed: int = 0,
    unseen_packages: tuple[str, ...] | list[str] = (),
    progress: bool = False,
) -> BuildReport:
    """Write clips and one CSV per split (ACD schema, three tiers per pair) plus `manifest.json`.

    Args:
        sources: labelled clips (e.g. from [`discover_debian_sources`] or your own).
        output_dir: where `audio/`, the CSVs and the manifest go.
        pairs_per_split: pairs per split (each gives three CSV rows, one per tier).
        mix: share of each pair kind (`change`, `two_changes`, `identical`, `near_identical`, `sources`).
        seed: makes everything deterministic.
        unseen_packages: packages kept out of every split but `test_unseen` (sounds the model never hears).
        progress: show a progress bar per split.
    """
    pairs_per_split = pairs_per_split or {"train": 400, "validation": 50, "test": 100}
    mix = mix or DEFAULT_MIX
    unknown = sorted(set(mix) - set(PAIR_KINDS))
    if unknown or not mix or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError(f"mix: shares of {list(PAIR_KINDS)}, non-negative, not all zero; got {mix}.")
    by_split = _split_sources(sources, pairs_per_split, seed, tuple(unseen_packages))
    audio_dir = os.path.join(output_dir, "audio")
    os.makedirs(os.path.join(audio_dir, "sources"), exist_ok=True)
    report = BuildReport()
    manifest = {"seed": seed, "sample_rate": RATE, "unseen_packages": list(unseen_packages), "sources": []}
    manifest["pairs"] = {}
    for split, count in pairs_per_split.items():
        members = [replace(source, split=split) for source in by_split[split]]
        # the pairs are the stream's (adiff_hf.data.pair_stream): the fixed splits hold what training draws from
        stream = DifferencePairStream(members, split, seed=seed, mix=mix, max_seconds=MAX_SECONDS)
        rows, records = [], []
        indices = range(count)
        if progress:
            from tqdm.auto import tqdm

            indices = tqdm(indices, desc=split, unit="pair")
        for index in indices:
            item = stream.pair(index)
            record, texts = item["record"], item["texts"]
            stem = f"{split}_{index:05d}"
            paths = []
            clips = zip(
                ("a", "b"), (item["audio1"], item["audio2"]), item["clip_sources"], item["unchanged"], strict=True
            )
            for suffix, wave, source, unchanged in clips:
                if unchanged:  # a source as read: written once, shared by the pairs that use it
                    paths.append(_write_source(source, wave, split, output_dir))
                    continue
                relative = os.path.join("audio", f"{stem}_{suffix}.wav")
                sf.write(os.path.join(output_dir, relative), wave, RATE, subtype="PCM_16")
                paths.append(relative)
            records.append({"split": split, "index": index, "filepath1": paths[0], "filepath2": paths[1]} | record)
            kind = record["kind"]
            task = f"local:{kind}" + (f":{record['change']}" if "change" in record else "")
            for tier, prompt in CSV_TIER_INPUTS.items():
                rows.append(
                    {
                        "taskname": task,
                        "filepath1": paths[0],
                        "filepath2": paths[1],
                        "caption1": _capital(texts["caption_1"]),
                        "caption2": _capital(texts["caption_2"]),
                        "input": prompt,
                        "answer": _capital(texts[tier]),
                    }
                )
        path = os.path.join(output_dir, f"{split}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        with open(os.path.join(output_dir, f"{split}_pairs.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)  # the known attributes of every pair
        report.splits[split], report.pairs[split], report.sources[split] = path, count, len(members)
        report.kinds[split] = {k: sum(r["kind"] == k for r in records) for k in mix}
        manifest["pairs"][split] = count
        manifest["sources"] += [asdict(s) | {"split": split} for s in members]
    with open(os.path.join(output_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return report


__all__ = [
    "DEFAULT_UNSEEN_PACKAGES",
    "RATE",
    "BuildReport",
    "Change",
    "Source",
    "apply_change",
    "build_difference_dataset",
    "discover_debian_sources",
    "draw_change",
    "draw_two_changes",
    "render_drum_patterns",
    "render_soundfont_melodies",
    "render_speech",
]
