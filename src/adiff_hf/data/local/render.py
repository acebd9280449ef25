"""Sources rendered from Debian packages: General MIDI melodies through fluidsynth, sentences in espeak-ng voices,
and drum patterns from hydrogen-drumkits' kits. Each renders into a folder once and is absent if its program or
data is."""

import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import soundfile as sf

from ...audio_io import load_audio
from ..changes import RATE, Source
from .packages import package_license

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
HYDROGEN_KITS = "/usr/share/hydrogen/data/drumkits"
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
    license = package_license("fluid-soundfont-gm")
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
    license = package_license("espeak-ng")
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
    license = package_license("hydrogen-drumkits")
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
