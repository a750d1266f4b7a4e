"""Hostile input: seeded random and damaged audio files through load_audio (bytes and paths),
iter_blocks and POST /v1/predict.  Each must decode to finite float32 audio or be refused with
AudioError / a 4xx JSON detail: no other exception, no 5xx, no hang, no memory spike.
scripts/fuzz.py runs the same cases by the thousand."""
from __future__ import annotations

import warnings

import pytest

from conftest import load_script, write_model

fuzzing = load_script("fuzzing")
Fuzzer, make_case = fuzzing.Fuzzer, fuzzing.make_case

CASES = 300
SEED = 20240917


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the server needs the serve extra: pip install 'emovit[serve]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # newer Starlette prefers httpx2 for its TestClient
        from fastapi.testclient import TestClient
    from emovit.inference import Recognizer
    from emovit.serve import MiB, create_app

    rec = Recognizer.load(write_model(tmp_path_factory.mktemp("model") / "tiny.pt"))
    return TestClient(create_app(rec, max_upload_bytes=MiB), raise_server_exceptions=False)


def test_cases_are_reproducible():
    assert make_case(SEED, 7).data == make_case(SEED, 7).data
    assert make_case(SEED, 7).data != make_case(SEED + 1, 7).data


def test_hostile_input_is_decoded_or_refused(tmp_path, client):
    fuzzer = Fuzzer(tmp_path, client, time_limit=10.0, rss_limit_mb=200.0)
    report = fuzzer.run_many(SEED, CASES)
    print(report.summary())
    assert not report.failures, report.summary()
    outcomes = {outcome for _, outcome in report.checks}
    assert outcomes == {"ok", "rejected"}, "the cases should exercise both answers"
    assert {path for path, _ in report.checks} == {"bytes", "file", "stream", "http"}
