"""Progress of long jobs: tqdm bars on a terminal, and where output is not a terminal (nohup, CI,
a log file) a plain line at a steady rate, so that a log always says what a run is doing."""
from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator

from tqdm.auto import tqdm

# Seconds between progress lines when output is not a terminal (EMOVIT_PROGRESS_SECONDS overrides).
LINE_EVERY = float(os.environ.get("EMOVIT_PROGRESS_SECONDS", "30"))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Iterate `items` showing progress: a tqdm bar on a TTY, else one line every LINE_EVERY seconds
    (what, step n/total, elapsed, ETA and the latest `note`, e.g. the loss).  Disabled when `enabled`
    is false.  `total` counts the whole job when `items` resumes part of the way (`done` before)."""

    def __init__(self, items: Iterable, desc: str, total: int | None = None, done: int = 0, enabled: bool = True,
                 unit: str = "step", stream=None):
        self.items, self.desc, self.unit = items, desc, unit
        self.total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
        self.done, self.started_at = done, done
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.note = ""
        self.bar = None
        if enabled and self.stream.isatty():
            self.bar = tqdm(items, desc=desc, total=self.total, initial=done, leave=False, unit=unit,
                            file=self.stream)

    def __iter__(self) -> Iterator:
        if self.bar is not None:
            for item in self.bar:
                yield item
            return
        started = last = time.perf_counter()
        for item in self.items:
            yield item
            self.done += 1
            now = time.perf_counter()
            if self.enabled and (now - last >= LINE_EVERY or self.done == self.total):
                last = now
                self._line(now - started)

    def _line(self, elapsed: float) -> None:
        position = f"{self.done}/{self.total}" if self.total else str(self.done)
        line = f"[{self.desc}] {self.unit} {position}, {_duration(elapsed)} elapsed"
        run = self.done - self.started_at
        if self.total and run > 0:
            line += f", ETA {_duration(elapsed / run * (self.total - self.done))}"
        if self.note:
            line += f", {self.note}"
        print(line, file=self.stream, flush=True)

    def set_note(self, note: dict[str, str]) -> None:
        """What to show beside the count (e.g. {"loss": "0.512"})."""
        if self.bar is not None:
            self.bar.set_postfix(note, refresh=False)
        self.note = " ".join(f"{k} {v}" for k, v in note.items())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def report(message: str, enabled: bool = True) -> None:
    """A line that stays, above any bar (epoch summaries, resumptions)."""
    if enabled:
        tqdm.write(message, file=sys.stderr)
