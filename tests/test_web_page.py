"""What the web page needs from the server without a browser: /favicon.ico answers with an SVG icon
(no 404 in browsers' and crawlers' logs) and the page links to it.  The page itself is exercised in
Chromium by test_web_e2e.py."""
from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'emovit[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # newer Starlette prefers httpx2 for its TestClient; httpx still works
    from fastapi.testclient import TestClient

from emovit.recognizer import Recognizer  # noqa: E402
from emovit.serve import create_app  # noqa: E402
from conftest import write_model  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return TestClient(create_app(Recognizer.load(write_model(tmp_path_factory.mktemp("model") / "tiny.pt"))))


def test_favicon_is_an_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "max-age" in response.headers.get("cache-control", "")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 32 32"
    assert "/favicon.ico" not in client.get("/openapi.json").json()["paths"]  # not part of the API


def test_page_links_to_the_favicon(client):
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in client.get("/").text
