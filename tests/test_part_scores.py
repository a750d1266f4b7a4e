"""scripts/part_scores.py: a run's model scored corpus by corpus on one part of its split."""
import csv
import json
import sys

from conftest import MODEL_LABELS, load_script, write_model

part_scores = load_script("part_scores")


def _split(run, rows):
    with open(run / "split.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["part", "path", "label", "speaker", "corpus", "view", "val_note"])
        writer.writeheader()
        writer.writerows(rows)


def test_each_corpus_of_the_part_is_scored_apart_and_a_bad_file_is_named_not_fatal(tmp_path, write_tone, monkeypatch,
                                                                                   capsys):
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    write_model(run / "models" / "plain.pt")
    rows = []
    for corpus, speaker in (("emodb", "emodb:14"), ("savee", "savee:JE")):
        for i, label in enumerate(MODEL_LABELS):
            path = write_tone(f"{corpus}/{i}.wav", seconds=1.0, freq=200 + 100 * i)
            for view in (0, 1):  # augmented views are not clips of their own
                rows.append({"part": "val", "path": path, "label": label, "speaker": speaker, "corpus": corpus,
                             "view": view, "val_note": "savee: shares speakers"})
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    rows.append({"part": "val", "path": broken, "label": "anger", "speaker": "emodb:14", "corpus": "emodb", "view": 0})
    rows.append({"part": "test", "path": rows[0]["path"], "label": "anger", "speaker": "emodb:08", "corpus": "emodb",
                 "view": 0})
    _split(run, rows)
    monkeypatch.setattr(sys, "argv", ["part_scores.py", str(run), "--model", "plain"])
    assert part_scores.main() == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["failed"] == 1 and "broken.wav" in out.err
    assert {c: (r["n"], r["speakers"]) for c, r in result["corpora"].items()} == {
        "emodb": (3, ["emodb:14"]), "savee": (3, ["savee:JE"])}
    assert result["all"]["n"] == 6 and 0.0 <= result["all"]["ua"] <= 1.0
    assert result["note"] == "savee: shares speakers"
