"""Protocol splits on synthetic manifests: sizes, stratification, determinism, no leaks."""
from collections import Counter

import pytest

from conftest import shared_data
from emovit.corpora.manifest import Utterance
from emovit.protocols import (PROTOCOLS, Split, leakage_audit, loso_folds, make_split, protocol_splits, read_split,
                              write_split)

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


def test_val_speakers_sets_how_many_training_speakers_validate():
    """Two validation speakers instead of one (a one-speaker validation part is a noisy guide): the same
    test speakers, validation grown by one speaker taken from training, never from test."""
    utts = synthetic()
    one, two = make_split(utts, "speaker", seed=1), make_split(utts, "speaker", seed=1, val_speakers=2)
    assert two.test == one.test
    val = {u.speaker for u in two.val}
    assert len(val) == 2 and val.isdisjoint({u.speaker for u in two.train} | {u.speaker for u in two.test})
    assert {u.sex for u in two.val} == {"male", "female"}
    assert all(len({u.speaker for u in f.val}) == 3 for f in loso_folds(utts, seed=0, val_speakers=3))
    assert protocol_splits(utts, "loso", val_speakers=2)[0][0].val != loso_folds(utts)[0].val
    assert len({u.speaker for u in protocol_splits(utts, "speaker", seed=1, val_speakers=2)[0][0].val}) == 2
    with pytest.raises(ValueError, match="leave no training speaker"):
        make_split(utts, "speaker", seed=1, val_speakers=8)  # 10 speakers, 2 tested: 8 outside test
    with pytest.raises(ValueError, match="at least 1"):
        protocol_splits(utts, "speaker", val_speakers=0)
    with pytest.raises(ValueError, match="not on speakers"):  # validation there is a fraction of utterances
        protocol_splits(utts, "kfold", val_speakers=2)
    few = make_split(synthetic(n_speakers=4), "speaker", seed=0, val_speakers=2)  # too few: by utterance still
    assert few.val_note and {u.speaker for u in few.val} <= {u.speaker for u in few.train}


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


# --- kfold: stratified K-fold over utterances ---------------------------------------------------

def uneven(counts={"anger": 23, "neutral": 17, "sadness": 12}, n_speakers=3):
    return [Utterance(f"/u/{lab}_{i:02d}.wav", lab, f"spk{i % n_speakers}", "synth", "", f"t{i}")
            for lab, n in counts.items() for i in range(n)]


def test_kfold_tests_each_utterance_once_stratified_with_val_from_train():
    from emovit.protocols import kfold_folds

    utts = uneven()
    folds = kfold_folds(utts, k=5, seed=0)
    assert [f.fold for f in folds] == ["1", "2", "3", "4", "5"] and {f.protocol for f in folds} == {"kfold"}
    tested = Counter(u.path for f in folds for u in f.test)
    assert set(tested) == paths(utts) and set(tested.values()) == {1}
    totals = Counter(u.label for u in utts)
    for f in folds:
        for lab, n in Counter(u.label for u in f.test).items():
            assert abs(n - totals[lab] / 5) <= 1
        assert set(Counter(u.label for u in f.test)) == set(totals)
        # validation comes from the training side only, and train + val + test is everything
        assert paths(f.val).isdisjoint(paths(f.test)) and paths(f.val).isdisjoint(paths(f.train))
        assert paths(f.train) | paths(f.val) == paths(utts) - paths(f.test)
        assert len(f.val) == round(0.1 * (len(utts) - len(f.test))) and f.val_note
        assert len(f.train_views) == 4 * len(f.train) and {v for _, v in f.test_views} == {0}
    assert len({frozenset(paths(f.val)) for f in folds}) == 5


def test_kfold_deterministic_by_seed_and_input_order():
    from emovit.protocols import kfold_folds

    utts = synthetic(n_speakers=4)
    a = kfold_folds(utts, k=4, seed=1)
    b = kfold_folds(list(reversed(utts)), k=4, seed=1)
    assert [(f.train, f.val, f.test) for f in a] == [(f.train, f.val, f.test) for f in b]
    c = kfold_folds(utts, k=4, seed=2)
    assert [f.test for f in a] != [f.test for f in c] and [f.val for f in a] != [f.val for f in c]


def test_kfold_refuses_bad_k():
    from emovit.protocols import kfold_folds

    utts = uneven()
    with pytest.raises(ValueError, match=r"k >= 2.*k=1"):
        kfold_folds(utts, k=1)
    with pytest.raises(ValueError, match=r"k=13 .*'sadness': 12"):
        kfold_folds(utts, k=13)
    assert len(kfold_folds(utts, k=12)) == 12
    with pytest.raises(ValueError, match="kfold_folds"):
        make_split(utts, "kfold")
    with pytest.raises(ValueError):
        kfold_folds([], k=5)


# --- emobox: the EmoBox benchmark's published folds ---------------------------------------------

def table_rows(corpus):
    from emovit.protocols import _emobox_rows

    return [r for r in _emobox_rows(None)[1] if r["corpus"] == corpus]


def from_rows(rows):
    """Utterances (no audio) named as the table's rows, labelled as the corpus labels them."""
    from emovit.protocols import EMOBOX_LABELS

    out = []
    for r in rows:
        name, corpus = r["utterance"], r["corpus"]
        speaker = {"emodb": name[:2], "savee": name[:2], "ravdess": name[-2:]}[corpus]
        sex = "male" if corpus == "savee" or (corpus == "ravdess" and int(speaker) % 2) else "female"
        out.append(Utterance(f"/{corpus}/{name}.wav", EMOBOX_LABELS[corpus][r["emobox_label"]], speaker, corpus, sex))
    return out


def write_table(path, rows):
    lines = ["corpus,utterance,test_fold,emobox_label"] + [
        f"{r['corpus']},{r['utterance']},{r['test_fold']},{r['emobox_label']}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def small_savee(tmp_path):
    """Three sentences per emotion code and SAVEE speaker, as the packaged table folds them."""
    rows = [r for r in table_rows("savee") if r["utterance"][-2:] in ("01", "02", "03")]
    return rows, write_table(tmp_path / "folds.csv", rows)


def test_emobox_small_table_folds_and_left_out(tmp_path):
    from emovit.protocols import emobox_folds

    rows, table = small_savee(tmp_path)
    assert len(rows) == 84
    extra = Utterance("/savee/DC_a99.wav", "anger", "DC", "savee", "male")
    utts = from_rows(rows) + [extra]
    folds = emobox_folds(utts, table=table, seed=0)
    assert [f.fold for f in folds] == ["1", "2", "3", "4"] and {f.protocol for f in folds} == {"emobox"}
    assert [sorted({u.speaker for u in f.test}) for f in folds] == [["JE"], ["KL"], ["DC"], ["JK"]]
    assert folds.left_out == [extra] and folds.report()["left_out"] == [extra.path]
    assert all(extra not in f.part(p) for f in folds for p in ("train", "val", "test"))
    tested = Counter(u.path for f in folds for u in f.test)
    assert len(tested) == 84 and set(tested.values()) == {1}
    for f in folds:
        assert len(f.test) == 21 and paths(f.train) | paths(f.val) == paths(utts) - paths(f.test) - {extra.path}
        assert {u.speaker for u in f.test}.isdisjoint({u.speaker for u in f.train + f.val})
        assert "training utterances" in f.val_note  # 4 speakers: validation falls back to utterances
    # the official layout AudioData/DC/a01.wav matches the table's DC_a01
    official = [Utterance(f"/savee/AudioData/{u.speaker}/{u.path.split('_', 1)[1]}", u.label, u.speaker, u.corpus,
                          u.sex) for u in from_rows(rows)]
    assert [len(f.test) for f in emobox_folds(official, table=table)] == [21] * 4


def test_emobox_refusals(tmp_path):
    from emovit.protocols import emobox_folds

    rows, table = small_savee(tmp_path)
    utts = from_rows(rows)
    with pytest.raises(ValueError, match=r"no EmoBox folds for corpus 'cremad'.*savee"):
        emobox_folds([Utterance("/c/1001_DFA_ANG_XX.wav", "anger", "1001", "cremad")], table=table)
    with pytest.raises(ValueError, match="emodb, ravdess, savee"):  # the packaged table
        emobox_folds([Utterance("/c/1001_DFA_ANG_XX.wav", "anger", "1001", "cremad")])
    with pytest.raises(ValueError, match="per corpus"):
        emobox_folds(utts + [Utterance("/e/03a01Fa.wav", "happiness", "03", "emodb")], table=table)
    with pytest.raises(ValueError, match=r"^3 of the 84 savee utterances .*(DC|JE|JK|KL)_"):
        emobox_folds(utts[3:], table=table)
    wrong = [Utterance(u.path, "sadness", u.speaker, u.corpus, u.sex) if u.path.endswith("DC_a01.wav") else u
             for u in utts]
    with pytest.raises(ValueError, match=r"1 savee utterance\(s\) labelled differently.*DC_a01: EmoBox 'a' vs 'sadness'"):
        emobox_folds(wrong, table=table)
    with pytest.raises(ValueError, match="more than once"):
        emobox_folds(utts + [Utterance("/other/DC_a01.flac", "anger", "DC", "savee")], table=table)
    (tmp_path / "bad.csv").write_text("corpus,utterance,fold\nsavee,DC_a01,1\n")
    with pytest.raises(ValueError, match="lacks column"):
        emobox_folds(utts, table=tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="emobox_folds"):
        make_split(utts, "emobox")


def test_emobox_label_filtered_corpus_needs_only_its_labels(tmp_path):
    from emovit.corpora import select_labels
    from emovit.protocols import emobox_folds

    rows, table = small_savee(tmp_path)
    kept, _ = select_labels(from_rows(rows), ["anger", "neutral", "sadness"])
    folds = emobox_folds(kept, table=table)
    assert folds.labels_not_required == {"disgust": 12, "fear": 12, "happiness": 12, "surprise": 12}
    assert folds.left_out == [] and sum(len(f.test) for f in folds) == len(kept) == 36


def test_emobox_packaged_table_without_audio():
    """All three corpora, as synthetic utterances named like the packaged table's rows."""
    from emovit.protocols import emobox_folds

    emodb = emobox_folds(from_rows(table_rows("emodb")))
    assert [len(f.test) for f in emodb] == [107] * 5 and all(len({u.speaker for u in f.test}) == 10 for f in emodb)
    assert all("speaker-dependent" in f.val_note and len(f.val) == 43 for f in emodb)
    ravdess = emobox_folds(from_rows(table_rows("ravdess")), seed=0)
    assert [sorted({u.speaker for u in f.test}) for f in ravdess][0] == ["01", "11", "20", "21"]
    for f in ravdess:
        val_spk = {u.speaker for u in f.val}
        assert len(val_spk) == 2 and Counter(u.sex for u in f.val) == {"male": 60, "female": 60}
        assert val_spk.isdisjoint({u.speaker for u in f.train + f.test}) and "held out" in f.val_note
    again = emobox_folds(list(reversed(from_rows(table_rows("ravdess")))), seed=0)
    assert [(f.train, f.val, f.test) for f in again] == [(f.train, f.val, f.test) for f in ravdess]
    other = emobox_folds(from_rows(table_rows("ravdess")), seed=1)
    assert [f.test for f in other] == [f.test for f in ravdess] and [f.val for f in other] != [f.val for f in ravdess]


@pytest.mark.parametrize("corpus,folder,n_folds,fold_size", [
    ("emodb", "emodb", 5, 107), ("savee", "savee/ALL", 4, 120), ("ravdess", "ravdess", 6, 240)])
def test_emobox_real_corpora(corpus, folder, n_folds, fold_size):
    from emovit.corpora import index_corpus
    from emovit.protocols import emobox_folds

    utts = index_corpus(corpus, shared_data() / folder).utterances  # file names only: a few ms
    folds = emobox_folds(utts, seed=0)
    assert len(folds) == n_folds and [len(f.test) for f in folds] == [fold_size] * n_folds
    assert folds.left_out == [] and folds.labels_not_required == {}
    tested = Counter(u.path for f in folds for u in f.test)
    assert len(tested) == len(utts) == n_folds * fold_size and set(tested.values()) == {1}
    for f in folds:
        test = paths(f.test)
        assert test.isdisjoint(paths(f.train)) and test.isdisjoint(paths(f.val)) and f.val_note
        assert paths(f.val).isdisjoint(paths(f.train))
        if corpus != "emodb":
            assert {u.speaker for u in f.test}.isdisjoint({u.speaker for u in f.train + f.val})
            assert leakage_audit(f)["speaker_independent"]
