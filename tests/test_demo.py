"""The Gradio demo (app.py) served on localhost and driven by a real headless Chromium (Debian's, no download)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from adiff_hf.serving.demo import TIER_LABELS, Explainer
from conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_adiff_dir):
    port = _free_port()
    env = os.environ | {
        "ADIFF_HF_MODEL": str(tiny_adiff_dir),
        "ADIFF_HF_MAX_NEW_TOKENS": "8",
        "PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    process = subprocess.Popen(
        [sys.executable, str(REPO / "app.py")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 900  # a guard against a demo that never starts, far above a slow start
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            assert process.poll() is None, process.stdout.read()[-3000:]
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the demo did not start within 900 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_upload_two_files_and_read_the_explanation(server, tiny_adiff_dir, clips, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "the browser test needs Debian's chromium (apt-get install chromium)"
    explainer = Explainer(str(tiny_adiff_dir), max_new_tokens=8)
    outputs = explainer(str(clips["tone"]), str(clips["noise"]), "few_words")
    expected, _, differences, claims, timeline, regions = outputs
    assert differences and all(row[0].startswith("Audio") for row in differences)
    assert timeline is None and regions == []  # short clips are not localised
    with sync_playwright() as playwright:
        # a fresh profile directory per run
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            page = browser.new_page()
            page.goto(server)
            page.locator("#audio1 input[type=file]").set_input_files(str(clips["tone"]))
            page.locator("#audio2 input[type=file]").set_input_files(str(clips["noise"]))
            page.get_by_label(TIER_LABELS["few_words"]).check()
            page.locator("#explain").click()
            page.wait_for_function(
                "() => document.querySelector('#explanation textarea').value.length > 0", timeout=600_000
            )
            assert page.locator("#explanation textarea").input_value() == expected
            page.wait_for_selector("#picture img", timeout=600_000)
            assert ".png" in page.locator("#picture img").get_attribute("src")
            # the measured differences and the checked claims, read back from the page's tables
            page.wait_for_function(
                "(s) => document.querySelector('#differences').innerText.includes(s)",
                arg=differences[0][0],
                timeout=600_000,
            )
            shown = page.locator("#differences").inner_text()
            assert all(row[0] in shown for row in differences)
            table = page.locator("#claims").inner_text()
            assert "check" in table and all(row[2] in table for row in claims)
        finally:
            browser.close()


def test_a_missing_recording_is_reported_not_crashed(tiny_adiff_dir, clips):
    explainer = Explainer(str(tiny_adiff_dir), max_new_tokens=4)
    with pytest.raises(ValueError, match="Give two recordings"):
        explainer(str(clips["tone"]), None)
    text, picture, differences, _, _, _ = explainer(str(clips["tone"]), str(clips["tone"]), "caption_first")
    assert isinstance(text, str) and os.path.getsize(picture) > 10_000
    assert differences == [["No measured difference above the thresholds."]]


def test_contradicted_claims_are_marked(tiny_adiff_dir, clips, monkeypatch):
    explainer = Explainer(str(tiny_adiff_dir), max_new_tokens=4)
    # the tiny model's words are random: give it an explanation whose claims the audio decides
    monkeypatch.setattr(
        explainer.pipe.processor, "batch_decode", lambda ids, **kwargs: ["Audio 2 is louder. Audio 1 has speech."]
    )
    _, _, _, rows, _, _ = explainer(str(clips["tone"]), str(clips["tone"]), "few_words")
    assert [row[:3] for row in rows] == [
        ["louder", "audio 2", "✗ contradicted"],
        ["speech", "audio 1", "✗ contradicted"],
    ]
    assert "no loudness difference" in rows[0][3]
