"""HTTP service around a Recognizer: a JSON API for programs and a one-page web UI for people.

    GET  /             the page (src/emovit/web/index.html): pick a file or record the microphone
    GET  /v1/health    {status, model, backend, labels, sample_rate, clip_seconds, timeline_window, max_upload_bytes}
    GET  /v1/labels    {labels}
    POST /v1/predict   multipart field ``file``, or the raw bytes with Content-Type audio/* or
                       application/octet-stream; ``?window=&hop=`` adds a timeline
                       -> {label, probabilities, duration[, timeline]}

Errors are JSON ``{"detail": ...}``: 413 for a body over the limit (checked on Content-Length before
reading and again while counting what arrives, since Content-Length can be absent or false), 422 for
audio that cannot be used (the AudioError message), 400 for a malformed request, 415 for a
non-audio Content-Type, 408 for a body that does not arrive within ``Limits.body_timeout``, 503
(with Retry-After) when the worker already holds ``max_concurrent + max_queue`` predictions.
Uploads stay in memory: the body is read into bytes, multipart parts are kept in memory spools
sized above the limit, and the client's file name is only used in messages.

Several worker processes (``emovit serve --workers N``) each build their app with
:func:`app_from_env` from the ``EMOVIT_SERVE_*`` variables :func:`run` sets.
"""
from __future__ import annotations

import asyncio
import io
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from .audio import AudioError, decode
from .inference import Prediction, Recognizer

MiB = 1024 * 1024
RAW_TYPES = ("application/octet-stream",)  # besides audio/*
ENV_PREFIX = "EMOVIT_SERVE_"
RETRY_AFTER_S = 1
# the page's icon, also answered at /favicon.ico so that browsers and crawlers asking there get no 404
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
           '<rect width="32" height="32" rx="7" fill="#2f6fdf"/><path d="M4 17h4l3-8 5 15 4-12 3 5h5" fill="none" '
           'stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>')


@dataclass(frozen=True)
class Limits:
    """What one worker process takes on at a time, so that a burst or a slow client costs a bounded
    amount of memory and time instead of a growing backlog."""

    max_concurrent: int = 2  # predictions decoding/inferring at once (a thread each)
    max_queue: int = 32  # further predictions admitted to wait (each holds its body in memory); more: 503
    body_timeout: float = 60.0  # seconds for the whole body to arrive once the headers have; slower: 408
    max_windows: int = 1000  # timeline windows per request (a tiny hop would mean millions of passes)


def _limit_text(limit: int) -> str:
    return f"{limit / MiB:g} MiB ({limit} bytes)"


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, f"malformed Content-Length header {declared!r}") from None
        if size > limit:
            raise HTTPException(413, f"upload of {size} bytes is over the limit of {_limit_text(limit)}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, f"upload is over the limit of {_limit_text(limit)}")
    except ClientDisconnect:  # nobody to answer, but not a server error worth a traceback in the log
        raise HTTPException(400, "the client went away before the whole body arrived") from None
    return bytes(body)


async def _multipart_file(request: Request, body: bytes, limit: int) -> tuple[bytes, str]:
    """The ``file`` part of a multipart body, parsed from memory (no spill to a temporary file)."""

    async def stream():
        yield body
        yield b""

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=16)
    parser.spool_max_size = limit + 1  # the whole body fits, so the part never rolls over to disk
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise HTTPException(400, f"malformed multipart body: {e.message}") from None
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            fields = ", ".join(sorted(form.keys())) or "none"
            raise HTTPException(400, f"multipart body has no file field named 'file' (fields: {fields})")
        data = await upload.read()
        return data, upload.filename or "upload"
    finally:
        await form.close()


def _named(data: bytes, name: str) -> io.BytesIO:
    """In-memory stream whose name shows in AudioError messages (never used as a path)."""
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def create_app(recognizer: Recognizer, max_upload_bytes: int = 20 * MiB, max_seconds: float | None = 600.0,
               limits: Limits = Limits()) -> FastAPI:
    """The FastAPI app serving ``recognizer``; one recognizer is shared by all requests.  Decoding and
    inference run in a pool of ``limits.max_concurrent`` threads, so the event loop keeps answering
    (health checks included) while clips are classified.  ``max_seconds`` bounds the decoded length,
    since a compressed upload under the byte limit can decode to hours."""
    pool = ThreadPoolExecutor(limits.max_concurrent, thread_name_prefix="emovit-predict")
    # a thread-safe counter, not an asyncio primitive: it does not care which event loop asks
    admission = threading.BoundedSemaphore(limits.max_concurrent + limits.max_queue)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="emovit", summary="Speech emotion recognition", version="1", lifespan=lifespan)
    model_name = recognizer.path.name if recognizer.path else "bundled"
    backend = recognizer.backend
    page = resources.files("emovit").joinpath("web/index.html").read_text(encoding="utf-8")

    def classify(data: bytes, name: str, window: float | None, hop: float | None) -> Prediction:
        if not data:
            raise AudioError(f"{name}: is empty (0 bytes)")
        # Decoding first checks everything (too long, NaN, too short, silent) for both kinds of answer.
        decoded = decode(_named(data, name), recognizer.sample_rate, max_seconds=max_seconds)
        if window is None:
            prediction = recognizer.predict(decoded.wave, sample_rate=recognizer.sample_rate)
            prediction.source, prediction.warnings = name, decoded.warnings  # e.g. a truncated upload
            return prediction
        windows = math.ceil(len(decoded.wave) / recognizer.sample_rate / hop)
        if windows > limits.max_windows:
            raise HTTPException(422, f"a timeline with hop {hop:g} s would take {windows} windows, more than the "
                                     f"{limits.max_windows} allowed: raise hop or send a shorter recording")
        return recognizer.timeline(_named(data, name), window, hop)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/v1/health")
    async def health() -> dict:
        return {"status": "ok", "model": model_name, "backend": backend, "labels": recognizer.labels,
                "sample_rate": recognizer.sample_rate, "clip_seconds": recognizer.clip_seconds,
                "timeline_window": recognizer.timeline_window, "max_upload_bytes": max_upload_bytes,
                "max_seconds": max_seconds}

    @app.get("/v1/labels")
    async def labels() -> dict:
        return {"labels": recognizer.labels}

    @app.post("/v1/predict")
    async def predict(request: Request, window: float | None = None, hop: float | None = None) -> dict:
        """Classify one uploaded recording (4 s, or averaged 4 s windows of a longer one; with ``window`` a
        timeline over all of it)."""
        if hop is not None and window is None:
            raise HTTPException(422, "hop needs window")
        if window is not None:
            hop = window / 2 if hop is None else hop
            if not 0 < window <= recognizer.clip_seconds:
                raise HTTPException(422, f"window must be above 0 and at most {recognizer.clip_seconds:g} s "
                                         f"(the clip length the model was trained on), got {window:g}")
            if not hop > 0:
                raise HTTPException(422, f"hop must be above 0, got {hop:g}")
        content_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
        multipart = content_type == "multipart/form-data"
        if not (multipart or content_type.startswith("audio/") or content_type in RAW_TYPES):
            raise HTTPException(415, f"Content-Type {content_type!r} is not audio: send a multipart form with a "
                                     "'file' field, or the bytes as audio/* or application/octet-stream")
        # admitted before the body is read, so the bodies held at once are bounded too
        if not admission.acquire(blocking=False):
            raise HTTPException(503, f"busy: {limits.max_concurrent} predictions running and {limits.max_queue} "
                                     "waiting; retry shortly", headers={"Retry-After": str(RETRY_AFTER_S)})
        try:
            try:
                body = await asyncio.wait_for(_read_body(request, max_upload_bytes), limits.body_timeout)
            except asyncio.TimeoutError:  # TimeoutError from 3.11 on
                raise HTTPException(408, f"the body did not arrive within {limits.body_timeout:g} s",
                                    headers={"Connection": "close"}) from None
            data, name = await _multipart_file(request, body, max_upload_bytes) if multipart else (body, "upload")
            try:
                prediction = await asyncio.get_running_loop().run_in_executor(pool, classify, data, name, window, hop)
            except AudioError as e:
                raise HTTPException(422, str(e)) from None
        finally:
            admission.release()
        return prediction.to_dict()

    return app


def _settings_to_env(model: str, max_upload_bytes: int, max_seconds: float | None, limits: Limits,
                     precision: str = "auto") -> dict[str, str]:
    settings = {"model": model, "max_upload_bytes": max_upload_bytes, "max_seconds": max_seconds,
                "precision": precision, **asdict(limits)}
    return {ENV_PREFIX + key.upper(): "" if value is None else str(value) for key, value in settings.items()}


def app_from_env() -> FastAPI:
    """App factory for worker processes (``uvicorn emovit.serve:app_from_env --factory``): each worker
    loads the model and the limits from the ``EMOVIT_SERVE_*`` variables, unset ones taking the defaults."""
    env = {key[len(ENV_PREFIX):].lower(): value for key, value in os.environ.items() if key.startswith(ENV_PREFIX)}
    defaults = Limits()
    limits = Limits(**{f.name: type(getattr(defaults, f.name))(env[f.name]) for f in fields(Limits) if env.get(f.name)})
    max_seconds = env.get("max_seconds", "600")  # set but empty: no limit
    recognizer = Recognizer.load(env.get("model") or None, precision=env.get("precision") or "auto")
    return create_app(recognizer, int(env.get("max_upload_bytes") or 20 * MiB),
                      float(max_seconds) if max_seconds else None, limits)


def run(recognizer: Recognizer, host: str = "127.0.0.1", port: int = 8000, max_upload_bytes: int = 20 * MiB,
        max_seconds: float | None = 600.0, *, workers: int = 1, limits: Limits = Limits(), keep_alive: int = 5) -> None:
    """Serve until interrupted.  One worker serves ``recognizer`` itself; with several, uvicorn starts
    that many processes that each load the model from ``recognizer.path`` (:func:`app_from_env`).
    ``keep_alive`` closes idle connections after that many seconds."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": "info", "timeout_keep_alive": keep_alive}
    if workers == 1:
        uvicorn.run(create_app(recognizer, max_upload_bytes, max_seconds, limits), **options)
        return
    model = str(recognizer.path) if recognizer.path else ""
    os.environ.update(_settings_to_env(model, max_upload_bytes, max_seconds, limits, recognizer.precision))
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=workers, **options)
