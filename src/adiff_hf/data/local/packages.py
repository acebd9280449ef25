"""The Debian packages the local dataset's sources come from: which they are, where their sounds lie, their files
and their licences."""

import os
import re
import shutil
import subprocess

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
# packages whose sounds are rendered (plus the program that renders them)
RENDERED_PACKAGES = {
    "fluid-soundfont-gm": "fluidsynth",
    "espeak-ng": "espeak-ng",
    "hydrogen-drumkits": "hydrogen-drumkits",
}


def package_license(package: str) -> str:
    """The licences named in `package`'s Debian copyright file ("unknown" without one)."""
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


def package_files(package: str, root: str) -> list[str]:
    """The audio files of `package` under `root` (shared folders hold several packages: ask dpkg)."""
    if root == "/usr/share/sounds" and shutil.which("dpkg"):
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
        return sorted(p for p in listing.splitlines() if p.startswith(root + "/") and os.path.isfile(p))
    return sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)
