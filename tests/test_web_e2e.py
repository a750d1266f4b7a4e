"""The web page in a real browser: upload a clip, record the (fake) microphone, see bars and a timeline;
an error clears the last answer, every class has its own colour, a one-window clip says so instead of
drawing a lone point, the chart's text stays readable on a 390 px phone, and the favicon is served.

Runs Debian's chromium headless through Playwright for Python against uvicorn on 127.0.0.1 (no
browser download: `playwright install` is never needed).  Skips when either is missing; .ci/run
installs chromium with apt.
"""
from __future__ import annotations

import itertools
import json
import re
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
from conftest import MODEL_LABELS as LABELS, write_model  # noqa: E402

pytestmark = pytest.mark.slow  # a browser: outside the fast set (pytest -m 'not slow')

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
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_page(browser, server, **options):
    context = browser.new_context(**options)
    context.grant_permissions(["microphone"], origin=server)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(server + "/")
    page.wait_for_function("document.getElementById('model').textContent.includes('tiny.pt')")
    return page


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, server):
    """The page on a 390 x 844 phone-sized viewport (CSS pixels)."""
    page = open_page(browser, server, viewport={"width": 390, "height": 844}, device_scale_factor=2)
    yield page
    page.context.close()


def bars(page) -> dict[str, float]:
    names = page.locator("#bars .name").all_text_contents()
    values = page.locator("#bars .value").all_text_contents()
    return {n: float(v.rstrip("%")) for n, v in zip(names, values)}


def analyse(page, path):
    page.set_input_files("#file", str(path))
    page.click("#analyse")


def long_clip(tmp_path):
    clip = tmp_path / "long.wav"
    sf.write(clip, tone(9.0, freq=220), 16000)
    return clip


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def chroma(colour) -> float:
    """0 for a grey (all channels equal), 1 for a fully saturated primary."""
    return (max(colour) - min(colour)) / 255


def contrast_with_white(colour) -> float:
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = map(linear, colour)
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


CANONICAL = ["anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]


def answer(labels: list[str], windows: int = 4) -> dict:
    """A /v1/predict answer over ``labels`` (any model's), with a timeline of ``windows`` windows."""
    segments = []
    for i in range(windows):
        weights = [1 + (7 * i + 3 * j) % 5 for j in range(len(labels))]
        probabilities = {label: w / sum(weights) for label, w in zip(labels, weights)}
        segments.append({"start": 2.0 * i, "end": 2.0 * i + 4, "label": max(probabilities, key=probabilities.get),
                         "probabilities": probabilities})
    overall = {label: sum(s["probabilities"][label] for s in segments) / windows for label in labels}
    return {"label": max(overall, key=overall.get), "probabilities": overall, "duration": 2.0 * windows + 2,
            "timeline": segments}


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
    assert page.locator("#timeline rect").count() == 5  # the default 3 s windows every 1.5 s: at 0, 1.5, 3, 4.5, 6 s
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


def test_an_error_clears_the_previous_result(page, tmp_path):
    page.check("#use-timeline")
    analyse(page, long_clip(tmp_path))
    page.wait_for_selector("#result:not([hidden]) #timeline polyline")
    # the next request is held until the page has been looked at: the old answer goes when it starts
    held = []
    page.route("**/v1/predict*", lambda route: held.append(route))
    try:
        junk = tmp_path / "text.wav"
        junk.write_text("not audio, a text file renamed .wav")
        analyse(page, junk)
        page.wait_for_selector("#busy:not([hidden])")
        while not held:
            page.wait_for_timeout(20)
        assert page.is_hidden("#result") and page.locator("#bars .track").count() == 0
        held[0].continue_()
    finally:
        page.unroute("**/v1/predict*")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "422: text.wav: not a readable audio file" in page.text_content("#error")
    assert page.is_hidden("#result") and page.is_hidden("#timeline-box")
    assert page.locator("#bars > *").count() == 0 and page.locator("#timeline > *").count() == 0
    assert page.text_content("#label") == "" and page.text_content("#source") == ""
    # a file the browser cannot convert either fails before any request: the old answer goes too
    analyse(page, long_clip(tmp_path))
    page.wait_for_selector("#result:not([hidden]) #bars .track")
    bad = tmp_path / "voice.m4a"
    bad.write_bytes(b"not an m4a")
    analyse(page, bad)
    page.wait_for_function("document.getElementById('error').textContent.includes('cannot decode')")
    assert page.is_hidden("#result") and page.locator("#bars > *").count() == 0


def shown_colours(page, labels: list[str]) -> dict[str, tuple[int, int, int]]:
    """The page showing an answer over ``labels`` (as from any model): label -> its colour, which bars,
    timeline lines and legend swatches must agree on."""
    body = json.dumps(answer(labels))
    page.check("#use-timeline")
    page.route("**/v1/predict*", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    try:
        page.evaluate("document.getElementById('source').textContent = ''")
        page.set_input_files("#file", files=[{"name": "any.wav", "mimeType": "audio/wav", "buffer": b"RIFF"}])
        page.click("#analyse")
        page.wait_for_function("document.getElementById('source').textContent.startsWith('any.wav')")
    finally:
        page.unroute("**/v1/predict*")
    assert page.locator("#bars .name").all_text_contents() == labels

    def colours(selector, style):
        return [rgb(c) for c in page.eval_on_selector_all(selector, f"es => es.map(e => getComputedStyle(e).{style})")]

    bar = colours("#bars .fill", "backgroundColor")
    assert bar == colours("#timeline polyline", "stroke") == colours("#legend .swatch", "backgroundColor")
    return dict(zip(labels, bar))


def test_every_class_has_its_own_clear_colour(page):
    """No two labels alike, none grey (low chroma reads as "no class"), all 3:1 on white; a class looks
    the same whichever model carries it; unknown labels, however many, get colours too."""
    seen: dict[str, set] = {}
    for labels in (CANONICAL, ["neutral", "angry", "anger", "contempt", "interest", "boredom"],
                   ["anger", "disgust"], [f"cluster {i}" for i in range(20)]):
        colours = shown_colours(page, labels)
        for label, colour in colours.items():
            assert chroma(colour) >= 0.3, f"{label} is drawn in a grey, {colour}"
            assert contrast_with_white(colour) >= 3, f"{label}'s {colour} is too pale on white"
            seen.setdefault(label, set()).add(colour)
        for (a, ca), (b, cb) in itertools.combinations(colours.items(), 2):
            assert sum((x - y) ** 2 for x, y in zip(ca, cb)) ** 0.5 >= 30, f"{a} and {b} look alike: {ca}, {cb}"
    assert all(len(seen[label]) == 1 for label in CANONICAL), seen


def test_a_clip_shorter_than_the_window_is_one_window_not_a_chart(page, tmp_path):
    page.check("#use-timeline")
    page.fill("#window", "4")
    page.fill("#hop", "2")
    short = tmp_path / "short.wav"
    sf.write(short, tone(2.0, freq=220), 16000)
    analyse(page, short)
    page.wait_for_function("document.getElementById('source').textContent.startsWith('short.wav')")
    assert page.is_visible("#one-window")
    note = page.text_content("#one-window")
    assert note.startswith("One 4 s window") and "shorter than the window" in note, note
    assert page.is_hidden("#timeline") and page.is_hidden("#legend")
    assert page.locator("#timeline > *").count() == 0
    assert list(bars(page)) == LABELS  # the answer itself is still there
    # two windows or more: the chart again, and no note
    analyse(page, long_clip(tmp_path))
    page.wait_for_function("document.getElementById('source').textContent.startsWith('long.wav')")
    assert page.is_hidden("#one-window") and page.is_visible("#timeline") and page.is_visible("#legend")
    assert page.locator("#timeline polyline").count() == len(LABELS)


READABLE_PX = 11.5  # the chart's text is drawn at 12 CSS px

TEXT_SIZES = """() => [...document.querySelectorAll('#timeline text')].map((t) => {
  const r = t.getBoundingClientRect();
  return { text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
           left: r.left, right: r.right, top: r.top, bottom: r.bottom, y: t.getAttribute('y') };
})"""


def test_chart_text_is_readable_on_a_phone(phone, tmp_path):
    analyse(phone, long_clip(tmp_path))
    phone.wait_for_selector("#result:not([hidden]) #timeline polyline")
    texts = phone.evaluate(TEXT_SIZES)
    assert texts and all(t["px"] >= READABLE_PX for t in texts), texts
    chart = phone.locator("#timeline").bounding_box()
    for t in texts:  # nothing cut off at the chart's edges
        assert chart["x"] - 0.5 <= t["left"] and t["right"] <= chart["x"] + chart["width"] + 0.5, t
    ticks = sorted((t for t in texts if t["text"].endswith("s")), key=lambda t: t["left"])
    assert len(ticks) >= 3 and all(a["right"] < b["left"] for a, b in zip(ticks, ticks[1:])), ticks
    assert float(phone.eval_on_selector("#legend", "e => parseFloat(getComputedStyle(e).fontSize)")) >= 12
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    # turned to landscape or a wider window: redrawn at the new width, text still the same size
    phone.set_viewport_size({"width": 900, "height": 600})
    phone.wait_for_function("document.getElementById('timeline').viewBox.baseVal.width > 600")
    assert all(abs(t["px"] - texts[0]["px"]) < 0.01 for t in phone.evaluate(TEXT_SIZES))


def test_the_favicon_is_served_and_the_browser_can_draw_it(page, server):
    response = page.request.get(server + "/favicon.ico")
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    size = page.evaluate("""async () => {
      const link = document.querySelector('link[rel=icon]');
      const image = new Image();
      image.src = link.href;
      await image.decode();
      return [new URL(link.href).pathname, image.naturalWidth, image.naturalHeight];
    }""")
    assert size == ["/favicon.ico", 32, 32]
