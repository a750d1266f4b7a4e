"""The web page in a real browser: upload a clip, record the (fake) microphone, see bars and a timeline.

Runs Debian's chromium headless through Playwright for Python against uvicorn on 127.0.0.1 (no
browser download: `playwright install` is never needed).  Skips when either is missing; .ci/run
installs chromium with apt.
"""
from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'emovit[serve]'")
uvicorn = pytest.importorskip("uvicorn", reason="the server needs the serve extra: pip install 'emovit[serve]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                                              "(pip install playwright; the dev extra has it)")

from conftest import tone  # noqa: E402
from emovit.recognizer import Recognizer  # noqa: E402
from emovit.serve import create_app  # noqa: E402
from test_recognizer import LABELS, write_model  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # a beeping fake microphone


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """uvicorn serving a tiny model on a free local port, in a thread of this process."""
    rec = Recognizer.load(write_model(tmp_path_factory.mktemp("model") / "tiny.pt"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(rec), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        context.grant_permissions(["microphone"], origin=server)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(server + "/")
        page.wait_for_function("document.getElementById('model').textContent.includes('tiny.pt')")
        yield page
        browser.close()


def bars(page) -> dict[str, float]:
    names = page.locator("#bars .name").all_text_contents()
    values = page.locator("#bars .value").all_text_contents()
    return {n: float(v.rstrip("%")) for n, v in zip(names, values)}


def test_upload_shows_bars_and_a_timeline(page, tmp_path):
    clip = tmp_path / "long.wav"
    sf.write(clip, tone(9.0, freq=220), 16000)
    page.set_input_files("#file", str(clip))
    page.click("#analyse")
    page.wait_for_selector("#result:not([hidden]) #bars .track")
    assert list(bars(page)) == LABELS and sum(bars(page).values()) == pytest.approx(100, abs=0.5)
    assert page.text_content("#label") in LABELS
    assert "long.wav (9.0 s)" in page.text_content("#source")
    assert page.is_visible("#timeline-box")
    assert page.locator("#timeline polyline").count() == len(LABELS)
    assert page.locator("#timeline rect").count() == 4  # windows at 0, 2, 4, 6 s
    assert page.text_content("#error") == ""


def test_unusable_file_shows_the_reason(page, tmp_path):
    junk = tmp_path / "notes.wav"
    junk.write_text("not audio")
    page.set_input_files("#file", str(junk))
    page.click("#analyse")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "422" in page.text_content("#error") and "notes.wav" in page.text_content("#error")


def test_microphone_recording_is_sent_as_wav(page):
    page.uncheck("#use-timeline")
    page.evaluate("document.getElementById('source').textContent = ''")
    page.click("#record")
    page.wait_for_selector("#record.recording")
    time.sleep(1.5)
    page.click("#record")
    page.wait_for_function("document.getElementById('source').textContent.startsWith('recording.wav')")
    assert page.text_content("#error") == ""
    assert list(bars(page)) == LABELS
    assert page.is_hidden("#timeline-box")
