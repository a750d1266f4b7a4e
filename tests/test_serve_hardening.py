"""`emovit serve` under pressure: bounded queues (503 + Retry-After) while health stays quick, slow
uploads cut off (408), idle connections closed, garbage that leaves the server answering, request
data that never reaches the file system, and several workers built from the environment.
Real uvicorn servers run in a thread on 127.0.0.1 (a port the OS picks) with a tiny model."""
from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'emovit[serve]'")
pytest.importorskip("uvicorn", reason="the server needs the serve extra: pip install 'emovit[serve]'")
httpx = pytest.importorskip("httpx", reason="the tests talk HTTP with httpx (in the dev extra)")
import uvicorn  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # newer Starlette prefers httpx2 for its TestClient; httpx still works
    from fastapi.testclient import TestClient
from typer.testing import CliRunner  # noqa: E402

from conftest import tone  # noqa: E402
from emovit.cli import app as cli  # noqa: E402
from emovit.recognizer import Recognizer  # noqa: E402
from emovit.serve import ENV_PREFIX, Limits, MiB, create_app  # noqa: E402
from conftest import MODEL_LABELS as LABELS, write_model  # noqa: E402


def wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, freq=300), 16000, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def rec(model):
    return Recognizer.load(model)


class Held:
    """The tiny recognizer whose predict waits for ``release``, so that requests pile up on cue."""

    def __init__(self, rec: Recognizer):
        self.rec, self.release = rec, threading.Event()

    def __getattr__(self, name):
        return getattr(self.rec, name)

    def predict(self, *args, **kwargs):
        self.release.wait(20)
        return self.rec.predict(*args, **kwargs)


@contextmanager
def serving(app, **config):
    """A real uvicorn server for ``app`` in a thread; yields its base URL and stops it afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def raw(url: str, payload: bytes, *, close_after_send: bool = False, timeout: float = 5.0) -> bytes:
    """Send bytes on a fresh connection and read until the server closes it (or ``timeout``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(payload)
        if close_after_send:
            return b""
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return received


def test_full_worker_answers_503_with_retry_after_and_health_stays_quick(rec):
    held = Held(rec)
    app = create_app(held, limits=Limits(max_concurrent=1, max_queue=2))
    clip = wav()

    async def scenario(url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            posts = [asyncio.create_task(client.post("/v1/predict", content=clip,
                                                     headers={"content-type": "audio/wav"})) for _ in range(8)]
            done, pending, deadline = set(), set(posts), time.monotonic() + 10
            while len(done) < 5 and time.monotonic() < deadline:
                finished, pending = await asyncio.wait(pending, timeout=1, return_when=asyncio.FIRST_COMPLETED)
                done |= finished
            assert len(pending) == 3, "one running and two waiting should be held, the rest refused at once"
            refused = [task.result() for task in done]
            start = time.monotonic()
            health = await client.get("/v1/health")
            health_seconds = time.monotonic() - start
            held.release.set()
            answered = [await task for task in pending]
            after = await client.post("/v1/predict", content=clip, headers={"content-type": "audio/wav"})
            return refused, health, health_seconds, answered, after

    with serving(app) as url:
        refused, health, health_seconds, answered, after = asyncio.run(scenario(url))
    assert all(r.status_code == 503 and r.headers["retry-after"] == "1" and "busy" in r.json()["detail"]
               for r in refused)
    assert health.status_code == 200 and health_seconds < 1.0  # the event loop is not blocked by inference
    assert [r.status_code for r in answered] == [200, 200, 200]
    assert after.status_code == 200  # every slot was given back


def test_slow_upload_is_cut_off_with_408_and_the_server_goes_on(rec):
    app = create_app(rec, limits=Limits(body_timeout=1.0))
    with serving(app) as url:
        start = time.monotonic()
        response = raw(url, b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: audio/wav\r\n"
                            b"Content-Length: 100000\r\n\r\nRIFF")  # then nothing more
        elapsed = time.monotonic() - start
        assert response.startswith(b"HTTP/1.1 408"), response[:200]
        assert b"did not arrive within 1 s" in response and 0.9 < elapsed < 4.5
        assert httpx.post(f"{url}/v1/predict", content=wav(), headers={"content-type": "audio/wav"}).status_code == 200


def test_idle_connection_is_closed_after_keep_alive(rec):
    with serving(create_app(rec), timeout_keep_alive=1) as url:
        start = time.monotonic()
        response = raw(url, b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n")  # keep-alive by default in 1.1
        assert response.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in response
        assert 0.9 < time.monotonic() - start < 4.5


def test_a_burst_of_garbage_leaves_the_server_answering(rec):
    post = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    garbage = [
        b"\x00\xff\x13\x37" * 256 + b"\r\n\r\n",
        b"GET / HTTP/9.9\r\nConnection: close\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        post + b"Content-Length: -5\r\n\r\n",
        post + b"Content-Length: abc\r\n\r\n",
        post + b"Content-Length: 10\r\nContent-Length: 20\r\n\r\n0123456789",
        post + b"Transfer-Encoding: chunked\r\nContent-Type: audio/wav\r\n\r\nzz\r\nabc\r\n",
        post + b"Content-Type: multipart/form-data\r\nContent-Length: 5\r\n\r\n--x\r\n",
        post + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 11\r\n\r\n--b\r\n\r\n\r\n--",
        b"GET /../../../etc/passwd HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ]
    many_parts = b"".join(b"--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n" % i for i in range(500))
    rng = np.random.default_rng(0)
    with serving(create_app(rec, max_upload_bytes=MiB), timeout_keep_alive=1) as url:
        for payload in garbage:
            response = raw(url, payload)
            assert not response.startswith(b"HTTP/1.1 5"), (payload[:60], response[:300])
        raw(url, post + b"Content-Type: audio/wav\r\nContent-Length: 100000\r\n\r\nRIFF", close_after_send=True)
        with httpx.Client(base_url=url, timeout=10) as client:
            for response in (
                client.post("/v1/predict", content=rng.bytes(5000), headers={"content-type": "audio/wav"}),
                client.post("/v1/predict", content=b"RIFF" + rng.bytes(3000), headers={"content-type": "audio/x-wav"}),
                client.post("/v1/predict", content=many_parts + b"--b--\r\n",
                            headers={"content-type": "multipart/form-data; boundary=b"}),
                client.post("/v1/predict?window=abc", content=wav()),
                client.post("/v1/predict?window=nan", content=wav()),
                client.post("/v1/predict?window=2&hop=1e-300", content=wav()),
                client.post("/v1/predict", content=b"\0" * (MiB + 1), headers={"content-type": "audio/wav"}),
                client.get("/v1/predict"),
                client.post("/v1/health"),
            ):
                assert 400 <= response.status_code < 500 and "detail" in response.json(), response.text
            good = client.post("/v1/predict", files={"file": ("a.wav", wav(), "audio/wav")})
            assert good.status_code == 200 and good.json()["label"] in LABELS
            assert client.get("/v1/health").json()["status"] == "ok"


def test_timelines_are_bounded_in_windows(rec):
    client = TestClient(create_app(rec, limits=Limits(max_windows=50)))
    clip = wav(10.0)
    response = client.post("/v1/predict?window=2&hop=0.1", content=clip, headers={"content-type": "audio/wav"})
    assert response.status_code == 422 and "100 windows, more than the 50 allowed" in response.json()["detail"]
    response = client.post("/v1/predict?window=2&hop=1e-300", content=clip, headers={"content-type": "audio/wav"})
    assert response.status_code == 422 and "raise hop" in response.json()["detail"]
    response = client.post("/v1/predict?window=2&hop=1", content=clip, headers={"content-type": "audio/wav"})
    assert response.status_code == 200 and len(response.json()["timeline"]) == 9


def test_no_path_from_the_request_reaches_the_file_system(rec, tmp_path, monkeypatch):
    """File names, bodies and query strings that look like paths are data: libsndfile only ever sees
    in-memory streams, and nothing named in the request is opened."""
    secret = tmp_path / "secret.wav"
    secret.write_bytes(wav())
    opened, watching = [], [True]

    def audit(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)  # hooks cannot be removed; `watching` switches this one off afterwards
    seen = []
    original = sf.SoundFile
    monkeypatch.setattr(sf, "SoundFile", lambda target, *a, **k: seen.append(type(target)) or original(target, *a, **k))
    client = TestClient(create_app(rec))
    try:
        responses = [
            client.post("/v1/predict", content=str(secret).encode(), headers={"content-type": "audio/wav"}),
            client.post("/v1/predict", files={"file": (str(secret), str(secret).encode(), "audio/wav")}),
            client.post("/v1/predict", files={"file": ("../../secret.wav", b"file://" + bytes(secret), "audio/wav")}),
            client.post(f"/v1/predict?file={secret}&path={secret}", content=b"\0" * 100),
        ]
    finally:
        watching[0] = False
    assert all(r.status_code == 422 for r in responses), [r.text for r in responses]
    assert seen and set(seen) == {io.BytesIO}
    assert not [p for p in opened if "secret" in p]


def test_workers_build_their_app_from_the_environment(model, monkeypatch):
    """run() with several workers hands uvicorn an import string; each worker's factory reads the model
    and limits that run() put in the environment."""
    import emovit.serve as serve

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    limits = Limits(max_concurrent=3, max_queue=0, body_timeout=7.5, max_windows=20)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # run() writes here; the test's process is untouched
    serve.run(Recognizer.load(model), "127.0.0.1", 8123, 2 * MiB, None, workers=3, limits=limits, keep_alive=2)
    (target, options), = calls
    assert target == "emovit.serve:app_from_env" and options["factory"] and options["workers"] == 3
    assert options["timeout_keep_alive"] == 2 and options["port"] == 8123
    assert os.environ[ENV_PREFIX + "MODEL"] == str(model) and os.environ[ENV_PREFIX + "MAX_SECONDS"] == ""
    client = TestClient(serve.app_from_env())
    health = client.get("/v1/health").json()
    assert health["max_upload_bytes"] == 2 * MiB and health["max_seconds"] is None and health["model"] == "tiny.pt"
    response = client.post("/v1/predict?window=1&hop=0.1", content=wav(3.0), headers={"content-type": "audio/wav"})
    assert response.status_code == 422 and "more than the 20 allowed" in response.json()["detail"]


def test_serve_command_options(model, monkeypatch):
    seen = {}
    monkeypatch.setattr("emovit.serve.run", lambda recognizer, host, port, limit, seconds, **options: seen.update(
        options))
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--model", str(model), "--workers", "4", "--max-concurrent", "3",
                                 "--max-queue", "0", "--body-timeout", "9", "--keep-alive", "2"])
    assert result.exit_code == 0, result.output
    assert seen == {"workers": 4, "limits": Limits(max_concurrent=3, max_queue=0, body_timeout=9.0), "keep_alive": 2}
    for bad in (["--workers", "0"], ["--max-queue", "-1"], ["--body-timeout", "0"], ["--max-concurrent", "0"]):
        result = runner.invoke(cli, ["serve", "--model", str(model), *bad])
        assert result.exit_code == 2 and "must be" in result.output, bad


def test_two_worker_processes_serve(model):
    """The real thing: uvicorn starts two worker processes, each building its app with the factory
    from the variables `emovit serve --workers 2` sets (uvicorn is started directly, to spare the
    test the command's own model load)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", ENV_PREFIX + "MODEL": str(model), ENV_PREFIX + "MAX_QUEUE": "4"}
    command = [sys.executable, "-m", "uvicorn", "emovit.serve:app_from_env", "--factory", "--workers", "2",
               "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url, deadline, health = f"http://127.0.0.1:{port}", time.monotonic() + 60, None
        while health is None and time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{url}/v1/health", timeout=2).json()
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health["labels"] == LABELS, server.stderr.read1().decode(errors="replace")
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(children) >= 2  # the two workers (uvicorn may add a helper process)
        response = httpx.post(f"{url}/v1/predict", content=wav(), headers={"content-type": "audio/wav"}, timeout=20)
        assert response.status_code == 200 and response.json()["label"] in LABELS
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
