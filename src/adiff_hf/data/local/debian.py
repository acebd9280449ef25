"""Installing the local dataset's Debian packages with apt-get (needs root).

Only the recipe's `--install` calls this; nothing in `adiff_hf.data.local` imports it.
"""

import subprocess

from .packages import DEBIAN_SOURCES, RENDERED_PACKAGES


def install_debian_packages() -> None:
    """apt-get install the source packages, fluidsynth and the packages rendered from (those present stay)."""
    wanted = [*DEBIAN_SOURCES, "fluidsynth", *RENDERED_PACKAGES]
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted], check=True)
