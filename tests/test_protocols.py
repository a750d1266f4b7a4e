"""Protocol splits on synthetic manifests: sizes, stratification, determinism, no leaks."""
from collections import Counter

import pytest

from conftest import shared_data
from emovit.corpora.manifest import Utterance
from emovit.protocols import PROTOCOLS, Split, leakage_audit, loso_folds, make_split, read_split, write_split

LABELS = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]


def synthetic(n_speakers=10, n_sentences=5, corpus="synth"):
    return [Utterance(f"/data/{corpus}/s{s:02d}_{lab}_{k}.wav", lab, f"{corpus}_{s:02d}", corpus,
                      "male" if s % 2 else "female", f"t{k}")
            for s in range(n_speakers) for lab in LABELS for k in range(n_sentences)]


def paths(utts):
    return {u.path for u in utts}


def test_paper_sizes_stratified_and_deterministic():
    utts = synthetic()
    a = make_split(utts, "paper", seed=3)
    assert len(a.test) == 70 and len(a.train) + len(a.val) == 280
    assert Counter(u.label for u in a.test) == {lab: 10 for lab in LABELS}
    assert len(a.val) == 28 and Counter(u.label for u in a.val) == {lab: 4 for lab in LABELS}
    assert paths(a.train).isdisjoint(paths(a.test)) and paths(a.val).isdisjoint(paths(a.test))
    assert paths(a.val).isdisjoint(paths(a.train))
    # Same seed, shuffled input: same split. Other seed: another split.
    b = make_split(list(reversed(utts)), "paper", seed=3)
    assert a.test == b.test and a.val == b.val and a.train == b.train
    assert make_split(utts, "paper", seed=4).test != a.test
    audit = leakage_audit(a)
    assert not audit["speaker_independent"] and audit["verdict"].startswith("speakers overlap: 10 shared")
    assert not audit["same_recording"]


def test_paper_views_train_only():
    s = make_split(synthetic(), "paper", views=4)
    assert len(s.train_views) == 4 * len(s.train)
    assert {v for _, v in s.val_views} == {0} and {v for _, v in s.test_views} == {0}
    assert s.leaky_views == 0


def test_paper_leaky_views_straddle_parts_and_audit_says_so():
    utts = synthetic()
    s = make_split(utts, "paper-leaky", seed=0, views=4)
    assert s.leaky_views == 4
    n = 4 * len(utts)
    assert len(s.train_views) + len(s.val_views) + len(s.test_views) == n
    assert len(s.test_views) == round(0.2 * n)  # test = 80 % of the corpus' utterance count
    train_paths = {u.path for u, _ in s.train_views}
    assert sum(u.path in train_paths for u, _ in s.test_views) > 0.9 * len(s.test_views)
    audit = leakage_audit(s)
    assert audit["same_recording"] and audit["pairs"]["train-test"]["shared_paths"]
    assert audit["verdict"].startswith("same recordings")
    # Originals (view 0) never sit in two parts.
    orig = [paths(s.originals(p)) for p in ("train", "val", "test")]
    assert sum(map(len, orig)) == len(utts) and len(set().union(*orig)) == len(utts)


def test_speaker_protocol_is_speaker_independent_and_sex_balanced():
    utts = synthetic()
    s = make_split(utts, "speaker", seed=1)
    spk = {p: {u.speaker for u in s.part(p)} for p in ("train", "val", "test")}
    assert len(spk["test"]) == 2 and len(spk["val"]) == 1
    assert spk["train"].isdisjoint(spk["test"]) and spk["val"].isdisjoint(spk["test"] | spk["train"])
    assert sorted({u.sex for u in s.test}) == ["female", "male"]
    audit = leakage_audit(s)
    assert audit["speaker_independent"] and audit["verdict"] == "speaker-independent"
    assert make_split(utts, "speaker", seed=1).test == s.test


def test_speaker_protocol_few_speakers_validates_on_utterances():
    s = make_split(synthetic(n_speakers=4), "speaker", seed=0)
    assert len({u.speaker for u in s.test}) == 1
    assert s.val and s.val_note and "val_note" in s.summary()
    assert {u.speaker for u in s.val} <= {u.speaker for u in s.train}
    assert leakage_audit(s)["speaker_independent"]


def test_loso_each_speaker_tested_once():
    utts = synthetic()
    folds = loso_folds(utts, seed=0)
    assert len(folds) == 10
    tested = Counter(u.speaker for f in folds for u in f.test)
    assert set(tested) == {u.speaker for u in utts} and set(tested.values()) == {35}
    for f in folds:
        assert leakage_audit(f)["verdict"] == "speaker-independent"
        assert len({u.speaker for u in f.val}) == 1
        assert len(f.train) + len(f.val) + len(f.test) == len(utts)


def test_loso_ravdess_six_groups_of_four():
    utts = [Utterance(f"/r/{a}_{lab}.flac", lab, f"ravdess_{a}", "ravdess", "male" if a % 2 else "female")
            for a in range(1, 25) for lab in LABELS]
    folds = loso_folds(utts)
    assert len(folds) == 6
    assert folds[0].fold == "ravdess_1+ravdess_2+ravdess_3+ravdess_4"
    assert all(len({u.speaker for u in f.test}) == 4 for f in folds)
    assert all(Counter(u.sex for u in f.test) == {"male": 14, "female": 14} for f in folds)
    assert len(loso_folds(utts, group_size=1)) == 24


def test_summary_and_roundtrip(tmp_path):
    s = make_split(synthetic(), "paper-leaky", seed=2)
    write_split(s, tmp_path / "split.csv")
    r = read_split(tmp_path / "split.csv")
    assert (r.protocol, r.seed, r.fold, r.views) == ("paper-leaky", 2, None, 4)
    assert r.train == s.train and r.test_views == s.test_views and r.val_views == s.val_views
    assert r.summary() == s.summary()
    header = (tmp_path / "split.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["part", "path", "label", "speaker", "corpus"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left

    f = loso_folds(synthetic(n_speakers=4), seed=1)[2]
    write_split(f, tmp_path / "fold.csv")
    g = read_split(tmp_path / "fold.csv")
    assert g.fold == f.fold and g.val_note == f.val_note and g.summary() == f.summary()


def test_handbuilt_split_and_errors():
    utts = synthetic(n_speakers=2)
    s = Split("paper", 0, None, utts[:10], [], utts[10:])
    assert len(s.train_views) == 10 and s.val_views == []
    assert "loso" in PROTOCOLS
    with pytest.raises(ValueError):
        make_split(utts, "loso")
    with pytest.raises(ValueError):
        make_split(utts, "nonsense")
    with pytest.raises(ValueError):
        make_split([], "paper")


def test_emodb_paper_split_leaks_takes_speaker_split_does_not():
    from emovit.corpora import index_corpus

    utts = index_corpus("emodb", shared_data() / "emodb").utterances
    paper = leakage_audit(make_split(utts, "paper", seed=0))
    assert paper["pairs"]["train-test"]["shared_takes"] > 0  # EmoDB's repeated versions (a, b, ...) of one reading
    speaker = make_split(utts, "speaker", seed=0)
    assert leakage_audit(speaker)["verdict"] == "speaker-independent"
    assert sorted({u.sex for u in speaker.test}) == ["female", "male"]
    assert len(loso_folds(utts)) == 10


def test_speaker_split_of_several_corpora_holds_out_speakers_of_each():
    from emovit.corpora import merge_corpora

    a = [Utterance(f"/a/{s}_{i}.wav", lab, s, "emodb") for s in ("03", "08", "09", "10", "11")
         for i, lab in enumerate(("anger", "neutral", "sadness", "anger"))]
    b = [Utterance(f"/b/{s}_{i}.wav", lab, s, "ravdess") for s in ("03", "04", "05", "06", "07", "08")
         for i, lab in enumerate(("anger", "neutral", "sadness", "anger"))]
    utts = merge_corpora([a, b])
    assert len({u.speaker for u in utts}) == 11  # "03" of one corpus is not "03" of the other
    split = make_split(utts, "speaker", seed=0)
    test_speakers = {u.speaker for u in split.test}
    assert {s.split(":")[0] for s in test_speakers} == {"emodb", "ravdess"}
    assert leakage_audit(split)["speaker_independent"]
    assert sorted(u.path for p in ("train", "val", "test") for u in split.part(p)) == sorted(u.path for u in utts)
