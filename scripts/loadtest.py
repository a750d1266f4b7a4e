"""Load test for `emovit serve`: many concurrent clients post real clips for a bounded time.

    python scripts/loadtest.py --start-server --model runs/emodb --clients 100 --seconds 60 --clips examples
    python scripts/loadtest.py --url http://127.0.0.1:8000 --server-pid 1234 --clips a.wav b.flac

Each client posts the clips in turn (multipart, as the web page does) and waits for the answer
before the next; a 503 is counted and its Retry-After honoured, as a polite client would.  Reports
requests, throughput, latency percentiles of the answered (200) requests, answers by status, and
the server's resident memory (its process and children: the workers) before, at peak and after.
The JSON report goes to stdout (and --json FILE), the human summary to stderr.
With --start-server the script starts `emovit serve` on a free port itself and stops it afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}


def load_clips(sources: list[str], limit: int) -> list[tuple[str, bytes, str]]:
    """(name, bytes, content type) of the audio files named or found (recursively) in folders."""
    paths: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            paths += sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        elif source.is_file():
            paths.append(source)
        else:
            raise SystemExit(f"--clips: {source} is neither a file nor a folder")
    if not paths:
        raise SystemExit(f"--clips: no audio files in {' '.join(sources)}")
    return [(p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "application/octet-stream")
            for p in paths[:limit]]


def tree_rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` and all its descendants (uvicorn workers are children of the supervisor)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            if current == pid:
                return None
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, workers: int, extra: str, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "emovit.cli", "serve", "--model", model, "--port", str(port),
               "--workers", str(workers), *shlex.split(extra)]
    print(f"starting: {shlex.join(command)}", file=sys.stderr)
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), f"http://127.0.0.1:{port}"


def wait_healthy(url: str, server: subprocess.Popen | None, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} before answering")
        try:
            return httpx.get(f"{url}/v1/health", timeout=2).raise_for_status().json()
        except httpx.HTTPError:
            time.sleep(0.25)
    raise SystemExit(f"{url}/v1/health did not answer within {seconds:g} s")


async def hammer(url: str, clips, clients: int, seconds: float, max_requests: int | None, timeout: float,
                 server_pid: int | None) -> dict:
    """Run the clients; returns the raw results and the peak server RSS sampled meanwhile."""
    results: list[tuple[str, float]] = []  # (status or exception name, seconds)
    started = time.monotonic()
    end = started + seconds
    peak = [tree_rss_mb(server_pid) if server_pid else None]
    issued = [0]

    async def client_loop(client: httpx.AsyncClient, first: int) -> None:
        k = first
        while time.monotonic() < end and (max_requests is None or issued[0] < max_requests):
            issued[0] += 1
            name, data, mime = clips[k % len(clips)]
            k += clients
            t0 = time.perf_counter()
            retry_after = 0.0
            try:
                response = await client.post(f"{url}/v1/predict", files={"file": (name, data, mime)})
                status = str(response.status_code)
                if response.status_code == 503:
                    retry_after = float(response.headers.get("retry-after", "1"))
            except httpx.HTTPError as e:
                status = type(e).__name__
            results.append((status, time.perf_counter() - t0))
            if retry_after:
                await asyncio.sleep(min(retry_after, max(0.0, end - time.monotonic())))

    async def sample_rss() -> None:
        while True:
            await asyncio.sleep(0.5)
            rss = tree_rss_mb(server_pid)
            if rss is not None:
                peak[0] = max(peak[0] or 0.0, rss)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        sampler = asyncio.create_task(sample_rss()) if server_pid else None
        await asyncio.gather(*(client_loop(client, i) for i in range(clients)))
        if sampler:
            sampler.cancel()
    return {"results": results, "elapsed": time.monotonic() - started, "rss_peak": peak[0]}


def report(run: dict, clients: int, clips: int, rss_before: float | None, rss_after: float | None,
           health: dict) -> dict:
    statuses = Counter(status for status, _ in run["results"])
    ok = np.array([seconds for status, seconds in run["results"] if status == "200"])
    percentile = (lambda q: round(float(np.percentile(ok, q)) * 1000, 1)) if len(ok) else (lambda q: None)
    total = len(run["results"])
    return {
        "server": {key: health.get(key) for key in ("model", "backend")},
        "clients": clients, "clips": clips, "seconds": round(run["elapsed"], 2),
        "requests": total, "ok": int(len(ok)), "errors": total - int(len(ok)),
        "errors_by_status": {s: n for s, n in sorted(statuses.items()) if s != "200"},
        "throughput_rps": round(total / run["elapsed"], 2), "ok_rps": round(len(ok) / run["elapsed"], 2),
        "latency_ms": {"p50": percentile(50), "p90": percentile(90), "p99": percentile(99),
                       "max": round(float(ok.max()) * 1000, 1) if len(ok) else None},
        "server_rss_mb": {key: None if value is None else round(value, 1)
                          for key, value in (("before", rss_before), ("peak", run["rss_peak"]), ("after", rss_after))},
    }


def summary(r: dict) -> str:
    lat, rss = r["latency_ms"], r["server_rss_mb"]
    return "\n".join([
        f"{r['requests']} requests from {r['clients']} clients in {r['seconds']} s ({r['clips']} clips; "
        f"model {r['server']['model']}, {r['server']['backend']})",
        f"throughput {r['throughput_rps']} req/s, answered (200) {r['ok_rps']} req/s",
        f"latency of 200s: p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
        f"errors {r['errors']}: " + (", ".join(f"{s} x{n}" for s, n in r["errors_by_status"].items()) or "none"),
        f"server RSS: before {rss['before']} MB, peak {rss['peak']} MB, after {rss['after']} MB",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--start-server", action="store_true", help="start `emovit serve` on a free port")
    parser.add_argument("--model", help="with --start-server: run directory, .pt or .onnx model")
    parser.add_argument("--workers", type=int, default=1, help="with --start-server: uvicorn workers")
    parser.add_argument("--serve-args", default="", help="with --start-server: more `emovit serve` options")
    parser.add_argument("--server-pid", type=int, help="PID of a running server, for its RSS")
    parser.add_argument("--clips", nargs="+", required=True, help="audio files and/or folders of them")
    parser.add_argument("--max-clips", type=int, default=200, help="at most this many clips are loaded")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, help="stop after this many requests, even before --seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    parser.add_argument("--json", type=Path, help="also write the JSON report here")
    args = parser.parse_args()
    if args.start_server == bool(args.url) or (args.start_server and not args.model):
        parser.error("give either --url (a running server) or --start-server --model PATH")

    clips = load_clips(args.clips, args.max_clips)
    server, log = None, None
    try:
        if args.start_server:
            log = tempfile.NamedTemporaryFile("w+", prefix="emovit-serve-", suffix=".log", delete=False)
            server, url = start_server(args.model, args.workers, args.serve_args, log)
            pid = server.pid
        else:
            url, pid = args.url.rstrip("/"), args.server_pid
        health = wait_healthy(url, server, 180)
        rss_before = tree_rss_mb(pid) if pid else None
        run = asyncio.run(hammer(url, clips, args.clients, args.seconds, args.max_requests, args.timeout, pid))
        rss_after = tree_rss_mb(pid) if pid else None
        result = report(run, args.clients, len(clips), rss_before, rss_after, health)
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            print(f"server log: {log.name}", file=sys.stderr)
    print(summary(result), file=sys.stderr)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
