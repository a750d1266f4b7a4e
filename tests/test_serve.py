"""`emovit serve`: the JSON API (health, labels, predict by multipart or raw bytes, timelines), its
refusals (413 / 415 / 400 / 422, never 500), in-memory uploads, the web page and the command."""
from __future__ import annotations

import io
import re
import sys
import tempfile
import warnings

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'emovit[serve]'")
pytest.importorskip("python_multipart", reason="the server needs the serve extra: pip install 'emovit[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # newer Starlette prefers httpx2 for its TestClient; httpx still works
    from fastapi.testclient import TestClient
from typer.testing import CliRunner  # noqa: E402

from conftest import tone  # noqa: E402
from emovit.cli import app as cli  # noqa: E402
from emovit.recognizer import Recognizer  # noqa: E402
from emovit.serve import MiB, create_app  # noqa: E402
from conftest import MODEL_LABELS as LABELS, write_model  # noqa: E402

LIMIT = MiB


def wav_bytes(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return Recognizer.load(write_model(tmp_path_factory.mktemp("model") / "tiny.pt"))


@pytest.fixture(scope="module")
def client(rec):
    return TestClient(create_app(rec, max_upload_bytes=LIMIT))


@pytest.fixture(scope="module")
def clip() -> bytes:
    return wav_bytes(tone(2.0, freq=300))


def test_health_and_labels(client):
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny.pt" and health["backend"] == "pytorch"
    assert health["labels"] == LABELS and health["clip_seconds"] == 4.0 and health["max_upload_bytes"] == LIMIT
    assert health["timeline_window"] == 3.0  # the page starts from it
    assert client.get("/v1/labels").json() == {"labels": LABELS}


def test_predict_multipart_and_raw_bytes_agree_with_the_recognizer(client, rec, clip):
    expected = rec.predict(clip)
    for response in (client.post("/v1/predict", files={"file": ("a.wav", clip, "audio/wav")}),
                     client.post("/v1/predict", content=clip, headers={"content-type": "audio/wav"}),
                     client.post("/v1/predict", content=clip, headers={"content-type": "application/octet-stream"})):
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"label", "probabilities", "duration"}
        assert body["label"] == expected.label and body["duration"] == pytest.approx(2.0)
        assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)


def test_timeline_on_long_audio(client, rec):
    long = wav_bytes(tone(10.0, freq=250))
    response = client.post("/v1/predict?window=4&hop=2", files={"file": ("long.wav", long, "audio/wav")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["start"] for s in body["timeline"]] == pytest.approx([0, 2, 4, 6])
    assert body["duration"] == pytest.approx(10.0)
    expected = rec.timeline(long, 4.0, 2.0)
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert set(body["timeline"][0]) == {"start", "end", "label", "probabilities"}
    default_hop = client.post("/v1/predict?window=2", content=long, headers={"content-type": "audio/wav"}).json()
    assert [s["start"] for s in default_hop["timeline"]][:3] == pytest.approx([0, 1, 2])


def test_bad_query_values(client, clip):
    for query, message in (("window=6", "at most 4 s"), ("window=0", "above 0"), ("hop=1", "hop needs window"),
                           ("window=2&hop=-1", "hop must be above 0")):
        response = client.post(f"/v1/predict?{query}", content=clip, headers={"content-type": "audio/wav"})
        assert response.status_code == 422 and message in response.json()["detail"], (query, response.text)


def test_upload_over_the_limit_is_413(client):
    big = b"\0" * (LIMIT + 1)
    response = client.post("/v1/predict", content=big, headers={"content-type": "audio/wav"})
    assert response.status_code == 413 and "over the limit of 1 MiB" in response.json()["detail"]
    response = client.post("/v1/predict", files={"file": ("big.wav", big, "audio/wav")})
    assert response.status_code == 413

    def chunks():  # no Content-Length: the server must count what arrives
        for _ in range(LIMIT // 65536 + 2):
            yield b"\0" * 65536

    response = client.post("/v1/predict", content=chunks(), headers={"content-type": "audio/wav"})
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]


@pytest.mark.parametrize("name, data, reason", [
    ("corrupt.wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 20, "not a readable audio file"),
    ("empty.wav", b"", "is empty"),
    ("nan.wav", wav_bytes(np.full(16000, np.nan, dtype=np.float32), subtype="FLOAT"), "NaN/Inf"),
    ("notes.wav", b"Dear diary, this is plain text and not audio at all.\n" * 5, "not a readable audio file"),
    ("click.wav", wav_bytes(tone(0.001)), "too short"),
    ("silence.wav", wav_bytes(np.zeros(16000, dtype=np.float32)), "silent"),
])
def test_unusable_audio_is_422_with_the_reason(client, name, data, reason):
    response = client.post("/v1/predict", files={"file": (name, data, "audio/wav")})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{name}: ") and reason in detail
    raw = client.post("/v1/predict?window=4", content=data, headers={"content-type": "audio/wav"})
    assert raw.status_code == 422 and reason in raw.json()["detail"]


def test_malformed_requests(client, clip):
    response = client.post("/v1/predict", data={"note": "hi"}, files={"audio": ("a.wav", clip, "audio/wav")})
    assert response.status_code == 400 and "no file field named 'file'" in response.json()["detail"]
    response = client.post("/v1/predict", data={"file": "just text"})
    assert response.status_code in (400, 415)
    response = client.post("/v1/predict", content=b"--x\r\n", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 400 and "malformed multipart" in response.json()["detail"]
    response = client.post("/v1/predict", content=b'{"a": 1}', headers={"content-type": "application/json"})
    assert response.status_code == 415 and "not audio" in response.json()["detail"]


def test_uploads_stay_in_memory(rec, monkeypatch):
    """A 3 MiB upload (starlette spools above 1 MiB by default) must not create any temporary file."""
    def refuse(*args, **kwargs):
        raise AssertionError("upload written to disk")

    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    client = TestClient(create_app(rec, max_upload_bytes=8 * MiB))
    big = wav_bytes(tone(100.0, freq=200))
    assert len(big) > 3 * MiB
    response = client.post("/v1/predict", files={"file": ("big.wav", big, "audio/wav")})
    assert response.status_code == 200 and response.json()["duration"] == pytest.approx(100.0)


def test_page_has_the_upload_form_and_nothing_external(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<form id="upload-form"' in page and 'name="file"' in page and 'type="file"' in page
    assert "MediaRecorder" in page and "/v1/predict" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"""(fetch|import)\(\s*["'](https?:)?//""", page)


def test_serve_command(monkeypatch, tmp_path):
    model = write_model(tmp_path / "m.pt")
    seen = {}
    monkeypatch.setattr("emovit.serve.run", lambda recognizer, host, port, limit, seconds, **options: seen.update(
        labels=recognizer.labels, host=host, port=port, limit=limit, seconds=seconds))
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--model", str(model), "--port", "8123", "--max-upload-mb", "5"])
    assert result.exit_code == 0, result.output
    assert seen == {"labels": LABELS, "host": "127.0.0.1", "port": 8123, "limit": 5 * MiB, "seconds": 600.0}
    result = runner.invoke(cli, ["serve", "--model", str(tmp_path / "missing.pt")])
    assert result.exit_code == 2 and "no such model file" in result.output
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the extra were not installed
    result = runner.invoke(cli, ["serve", "--model", str(model)])
    assert result.exit_code == 2 and "pip install 'emovit[serve]'" in result.output


def test_onnx_model_behind_the_api(tmp_path, clip):
    pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    from emovit.export import export_onnx

    onnx_file = tmp_path / "tiny.onnx"
    export_onnx(write_model(tmp_path / "tiny.pt"), onnx_file)
    client = TestClient(create_app(Recognizer.load(onnx_file)))
    assert client.get("/v1/health").json()["backend"] == "onnx"
    body = client.post("/v1/predict", files={"file": ("a.wav", clip, "audio/wav")}).json()
    expected = Recognizer.load(tmp_path / "tiny.pt", precision="fp32").predict(clip)
    assert body["label"] == expected.label
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-4)


def test_a_truncated_upload_is_answered_with_a_warning(client, clip):
    cut = clip[:len(clip) // 2]
    response = client.post("/v1/predict", files={"file": ("cut.wav", cut, "audio/wav")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration"] < 1.5 and len(body["warnings"]) == 1
    assert body["warnings"][0].startswith("cut.wav: is truncated")
    timeline = client.post("/v1/predict?window=1", files={"file": ("cut.wav", cut, "audio/wav")}).json()
    assert timeline["timeline"] and "truncated" in timeline["warnings"][0]
