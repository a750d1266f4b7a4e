"""Run the hostile-input fuzzer of tests/test_fuzz.py for longer and print a summary.

    OMP_NUM_THREADS=1 python scripts/fuzz.py --cases 5000 --seed 1 [--first 0] [--no-http] [--save DIR]

Each case goes through load_audio (bytes, and every third one as a file), iter_blocks and, unless
--no-http, POST /v1/predict of an app around the bundled model.  Exit status 1 when any case
fails; --save writes the failing inputs (named seed-index.bin) for replay.  libsndfile and mpg123
print notes of their own about damaged files straight to file descriptors 1 and 2; they go to
--lib-log (default: nowhere) while the cases run, so that the summary stays readable.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from fuzzing import Fuzzer, make_case  # scripts/fuzzing.py, beside this file


def http_client(tmpdir: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from emovit.inference import Recognizer
    from emovit.serve import MiB, create_app

    recognizer = Recognizer.load(None, precision="fp32")  # the bundled model: any model exercises the upload path
    return TestClient(create_app(recognizer, max_upload_bytes=MiB), raise_server_exceptions=False)


@contextmanager
def c_output_to(path: str):
    """Point file descriptors 1 and 2 (where C libraries print) at ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first case (to replay one)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds one check may take")
    parser.add_argument("--rss-limit-mb", type=float, default=200.0, help="peak RSS growth one check may cause")
    parser.add_argument("--no-http", action="store_true", help="only the decoder, not the HTTP upload path")
    parser.add_argument("--save", type=Path, help="folder for the inputs of failing cases")
    parser.add_argument("--lib-log", default=os.devnull, help="file for what the C libraries print")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        client = None if args.no_http else http_client(Path(tmp))
        fuzzer = Fuzzer(Path(tmp), client, time_limit=args.time_limit, rss_limit_mb=args.rss_limit_mb)
        with c_output_to(args.lib_log):
            report = fuzzer.run_many(args.seed, args.cases, args.first)
    print(f"seed {args.seed}, cases {args.first}..{args.first + args.cases - 1}", flush=True)
    print(report.summary(), flush=True)
    if args.save and report.failures:
        args.save.mkdir(parents=True, exist_ok=True)
        for index in sorted({i for i, *_ in report.failures}):
            (args.save / f"{args.seed}-{index}.bin").write_bytes(make_case(args.seed, index).data)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
