"""Adapters for users' own data, labelled by a CSV file or by folder names. Labels are mapped
onto the canonical emotions (`labels.SYNONYMS`); rows with other labels are skipped, never
turned into new classes."""
from __future__ import annotations

import csv
from pathlib import Path

from ._scan import IndexResult, absolute, audio_files, is_audio
from .labels import normalise_label, normalise_sex, unknown_label_reason
from .manifest import Utterance

REQUIRED_COLUMNS = ("path", "label")
UNKNOWN_SPEAKER = "unknown"


def _read_rows(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{csv_path}: CSV needs columns {', '.join(REQUIRED_COLUMNS)} (optional: speaker, sex, "
                f"sentence, intensity); missing {', '.join(missing)}, header is {header}"
            )
        return [{name: (value or "").strip() for name, value in zip(header, row)} for row in reader if any(row)]


def index_csv(csv_path: Path) -> IndexResult:
    """Rows of a CSV with columns path,label[,speaker,sex,sentence,intensity]; relative paths
    are taken from the CSV's folder. corpus = the CSV's name without extension."""
    if not csv_path.is_file():
        raise ValueError(f"the csv adapter expects a CSV file, got a folder: {csv_path}")
    result = IndexResult()
    listed: set[str] = set()
    for line, row in enumerate(_read_rows(csv_path), start=2):
        if not row.get("path"):
            result.skipped.append((f"{csv_path}:{line}", "row has no path"))
            continue
        path = str(absolute(csv_path.parent / row["path"]))
        label = normalise_label(row.get("label", ""))
        if label is None:
            reason = unknown_label_reason(row.get("label", ""))
        elif not is_audio(path):
            reason = f"not an audio file (extension {Path(path).suffix!r})"
        elif not Path(path).is_file():
            reason = "file not found"
        elif path in listed:
            reason = f"listed twice in {csv_path.name}"
        else:
            listed.add(path)
            result.utterances.append(Utterance(
                path=path, label=label, speaker=row.get("speaker") or UNKNOWN_SPEAKER,
                corpus=csv_path.stem, sex=normalise_sex(row.get("sex", "")),
                sentence=row.get("sentence", ""), intensity=row.get("intensity", ""),
            ))
            continue
        result.skipped.append((path, reason))
    result.utterances.sort(key=lambda u: u.path)
    return result


def index_folder(root: Path) -> IndexResult:
    """`root/<label>/**/<audio>`: one subfolder per label. corpus = the root folder's name."""
    result = IndexResult()
    for path in audio_files(root):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            result.skipped.append((str(path), "not inside a label folder"))
            continue
        label = normalise_label(parts[0])
        if label is None:
            result.skipped.append((str(path), "folder " + unknown_label_reason(parts[0])))
            continue
        result.utterances.append(
            Utterance(path=str(path), label=label, speaker=UNKNOWN_SPEAKER, corpus=root.name)
        )
    return result
