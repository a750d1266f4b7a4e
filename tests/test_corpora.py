"""Corpus adapters: generated fixture trees (names only, empty files) for every adapter, and
exact counts on the real corpora in ../shared/data when they are present."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from conftest import shared_data
from emovit.corpora import CORPORA, EMOTIONS, IndexResult, index_corpus, normalise_label
from emovit.corpora.manifest import read_manifest, write_manifest


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def by_name(result: IndexResult) -> dict[str, object]:
    return {Path(u.path).name: u for u in result.utterances}


def skipped_names(result: IndexResult) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in result.skipped}


def check_invariants(result: IndexResult) -> None:
    paths = [u.path for u in result.utterances]
    assert paths == sorted(paths)
    assert all(os.path.isabs(p) for p in paths)
    assert all(u.label in EMOTIONS for u in result.utterances)


# --- EmoDB -------------------------------------------------------------------------------------

def test_emodb_fixture(tmp_path):
    touch(tmp_path, "wav/03a01Fa.wav", "wav/08b02Wb.WAV", "wav/16a05Lc.flac", "wav/10a05Xa.wav",
          "wav/notes.wav", "README.txt", "wav/._03a01Fa.wav", "__MACOSX/wav/03a01Fa.wav")
    result = index_corpus("emodb", tmp_path)
    check_invariants(result)
    rows = by_name(result)
    assert set(rows) == {"03a01Fa.wav", "08b02Wb.WAV", "16a05Lc.flac"}
    u = rows["03a01Fa.wav"]
    assert (u.label, u.speaker, u.corpus, u.sex, u.sentence, u.intensity) == (
        "happiness", "03", "emodb", "male", "a01", "")
    assert (rows["08b02Wb.WAV"].label, rows["08b02Wb.WAV"].sex) == ("anger", "female")
    assert rows["16a05Lc.flac"].label == "boredom"
    skipped = skipped_names(result)
    assert set(skipped) == {"10a05Xa.wav", "notes.wav"}  # README, hidden and __MACOSX ignored
    assert "emotion letter 'X' is not an EmoDB code" in skipped["10a05Xa.wav"]


def test_emodb_every_code(tmp_path):
    touch(tmp_path, *(f"09a0{i}{c}a.wav" for i, c in enumerate("WLEAFTN")))
    labels = [u.label for u in index_corpus("emodb", tmp_path).utterances]
    assert labels == ["anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral"]


def test_duplicate_copy_is_skipped(tmp_path):
    touch(tmp_path, "a/03a01Fa.wav", "b/03a01Fa.wav")
    result = index_corpus("emodb", tmp_path)
    assert [Path(u.path).parent.name for u in result.utterances] == ["a"]
    assert result.skipped[0][1].startswith("duplicate of ")


# --- SAVEE -------------------------------------------------------------------------------------

def test_savee_official_layout(tmp_path):
    touch(tmp_path, "AudioData/DC/a01.wav", "AudioData/JE/sa03.wav", "AudioData/JK/su15.wav",
          "AudioData/KL/n30.wav", "AudioData/KL/d02.wav", "AudioData/DC/Info.txt", "AudioData/XY/f01.wav")
    result = index_corpus("savee", tmp_path)
    check_invariants(result)
    got = {(u.speaker, u.sentence, u.label) for u in result.utterances}
    assert got == {("DC", "a01", "anger"), ("JE", "sa03", "sadness"), ("JK", "su15", "surprise"),
                   ("KL", "n30", "neutral"), ("KL", "d02", "disgust")}
    assert {u.sex for u in result.utterances} == {"male"}
    assert {u.corpus for u in result.utterances} == {"savee"}
    [(path, reason)] = result.skipped
    assert path.endswith("XY/f01.wav") and "'XY'" in reason


def test_savee_flat_layout(tmp_path):
    touch(tmp_path, "ALL/DC_a01.flac", "ALL/JE_sa01.flac", "ALL/JK_su02.flac", "ALL/KL_h10.flac",
          "ALL/KL_f03.flac", "ALL/KL_x01.flac")
    result = index_corpus("savee", tmp_path / "ALL")
    rows = by_name(result)
    assert rows["JE_sa01.flac"].label == "sadness" and rows["JE_sa01.flac"].sentence == "sa01"
    assert rows["JK_su02.flac"].label == "surprise"
    assert (rows["KL_h10.flac"].label, rows["KL_f03.flac"].label) == ("happiness", "fear")
    assert (rows["DC_a01.flac"].speaker, rows["DC_a01.flac"].sentence) == ("DC", "a01")
    assert set(skipped_names(result)) == {"KL_x01.flac"}


def test_savee_both_layouts_same_clip_counted_once(tmp_path):
    touch(tmp_path, "AudioData/DC/a01.wav", "ALL/DC_a01.flac")
    result = index_corpus("savee", tmp_path)
    assert len(result.utterances) == 1 and len(result.skipped) == 1


# --- CREMA-D -----------------------------------------------------------------------------------

CREMAD_NAMES = ["1001_DFA_ANG_XX.wav", "1002_IEO_DIS_HI.wav", "1003_TIE_FEA_LO.wav",
                "1004_MTI_HAP_MD.wav", "1005_IWL_NEU_XX.wav", "1040_ITH_SAD_X.wav"]
DEMOGRAPHICS = "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n"


def test_cremad_fixture(tmp_path):
    touch(tmp_path, *(f"CREMA-D/AudioWAV/{n}" for n in CREMAD_NAMES), "CREMA-D/AudioWAV/1001_DFA_XYZ_XX.wav",
          "CREMA-D/AudioWAV/1001_DFA_ANG_ZZ.wav")
    (tmp_path / "CREMA-D/VideoDemographics.csv").write_text(DEMOGRAPHICS)
    result = index_corpus("cremad", tmp_path / "CREMA-D/AudioWAV")  # demographics beside the root
    check_invariants(result)
    rows = by_name(result)
    assert [u.label for u in result.utterances] == [
        "anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    u = rows["1001_DFA_ANG_XX.wav"]
    assert (u.speaker, u.sentence, u.intensity, u.sex, u.corpus) == ("1001", "DFA", "XX", "male", "cremad")
    assert rows["1002_IEO_DIS_HI.wav"].sex == "female"
    assert rows["1003_TIE_FEA_LO.wav"].sex == ""  # not in the demographics file
    assert rows["1040_ITH_SAD_X.wav"].intensity == "XX"  # misnamed file in older copies
    skipped = skipped_names(result)
    assert "'XYZ'" in skipped["1001_DFA_XYZ_XX.wav"] and "'ZZ'" in skipped["1001_DFA_ANG_ZZ.wav"]


def test_cremad_demographics_under_root_or_absent(tmp_path):
    touch(tmp_path, "crema/AudioWAV/1001_DFA_ANG_XX.wav")
    assert index_corpus("cremad", tmp_path / "crema").utterances[0].sex == ""
    (tmp_path / "crema/VideoDemographics.csv").write_text(DEMOGRAPHICS)
    assert index_corpus("cremad", tmp_path / "crema").utterances[0].sex == "male"


# --- RAVDESS -----------------------------------------------------------------------------------

def test_ravdess_fixture(tmp_path):
    touch(tmp_path, "Actor_01/03-01-05-02-01-01-01.wav", "Actor_02/03-01-08-01-02-02-02.flac",
          "Actor_02/03-01-02-01-01-01-02.wav", "Actor_01/03-02-03-01-01-01-01.wav",
          "Actor_01/01-01-03-01-01-01-01.wav", "Actor_01/01-01-03-01-01-01-01.mp4",
          "Actor_01/03-01-09-01-01-01-01.wav", "Actor_01/03-01-01-01-01-01.wav")
    result = index_corpus("ravdess", tmp_path)
    check_invariants(result)
    rows = by_name(result)
    u = rows["03-01-05-02-01-01-01.wav"]
    assert (u.label, u.speaker, u.sex, u.sentence, u.intensity, u.corpus) == (
        "anger", "01", "male", "01", "strong", "ravdess")
    u = rows["03-01-08-01-02-02-02.flac"]
    assert (u.label, u.speaker, u.sex, u.sentence, u.intensity) == ("surprise", "02", "female", "02", "normal")
    assert rows["03-01-02-01-01-01-02.wav"].label == "calm"
    skipped = skipped_names(result)
    assert set(skipped) == {"03-02-03-01-01-01-01.wav", "01-01-03-01-01-01-01.wav",
                            "03-01-09-01-01-01-01.wav", "03-01-01-01-01-01.wav"}  # .mp4 ignored
    assert "song" in skipped["03-02-03-01-01-01-01.wav"]
    assert "audio-video" in skipped["01-01-03-01-01-01-01.wav"]
    assert "emotion" in skipped["03-01-09-01-01-01-01.wav"]


# --- TESS --------------------------------------------------------------------------------------

def test_tess_fixture(tmp_path):
    touch(tmp_path, "OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_dog_ps.wav",
          "OAF_Fear/OAF_bar_fear.wav", "YAF_happy/YAF_base_happy.wav", "OAF_Sad/OAF_bath_sad.wav",
          "YAF_disgust/YAF_bean_disgust.wav", "OAF_neutral/OA_bite_neutral.wav",
          "YAF_disgust/XYZ_bean_disgust.wav", "YAF_calm/YAF_dog_calm.wav", "misc/recording.wav")
    result = index_corpus("tess", tmp_path)
    check_invariants(result)
    rows = by_name(result)
    assert {n: u.label for n, u in rows.items()} == {
        "OAF_back_angry.wav": "anger", "YAF_dog_ps.wav": "surprise", "OAF_bar_fear.wav": "fear",
        "YAF_base_happy.wav": "happiness", "OAF_bath_sad.wav": "sadness",
        "YAF_bean_disgust.wav": "disgust", "OA_bite_neutral.wav": "neutral"}
    u = rows["YAF_dog_ps.wav"]
    assert (u.speaker, u.sentence, u.sex, u.corpus) == ("YAF", "dog", "female", "tess")
    assert rows["OA_bite_neutral.wav"].speaker == "OAF"
    assert set(skipped_names(result)) == {"XYZ_bean_disgust.wav", "YAF_dog_calm.wav", "recording.wav"}


# --- CSV and folder ----------------------------------------------------------------------------

def test_csv_fixture(tmp_path):
    data = tmp_path / "mydata"
    touch(data, "clips/a.wav", "clips/b.wav", "clips/c.flac", "clips/d.wav", "clips/e.wav",
          "clips/f.wav", "clips/g.wav", "clips/h.ogg", "clips/i.wav", "notes.txt")
    outside = tmp_path / "elsewhere" / "z.mp3"
    touch(tmp_path, "elsewhere/z.mp3")
    (data / "mydata.csv").write_text(
        "Path,Label,Speaker,Sex\n"
        "clips/a.wav,angry,s1,M\n"
        "clips/b.wav,Happy,s1,female\n"
        "clips/c.flac,joy,,\n"
        "clips/d.wav,sad,s2,\n"
        "clips/e.wav,fearful,s2,\n"
        "clips/f.wav,disgusted,s2,\n"
        "clips/g.wav,surprised,s3,\n"
        "clips/h.ogg,neu,s3,\n"
        "clips/i.wav,excited,s3,\n"
        "clips/missing.wav,anger,s3,\n"
        "notes.txt,anger,s3,\n"
        f"{outside},Pleasant Surprise,s4,\n"
    )
    result = index_corpus("csv", data / "mydata.csv")
    check_invariants(result)
    rows = by_name(result)
    assert {n: u.label for n, u in rows.items()} == {
        "a.wav": "anger", "b.wav": "happiness", "c.flac": "happiness", "d.wav": "sadness",
        "e.wav": "fear", "f.wav": "disgust", "g.wav": "surprise", "h.ogg": "neutral", "z.mp3": "surprise"}
    assert rows["a.wav"].path == str(data / "clips" / "a.wav")
    assert (rows["a.wav"].speaker, rows["a.wav"].sex, rows["b.wav"].sex) == ("s1", "male", "female")
    assert rows["c.flac"].speaker == "unknown"
    assert {u.corpus for u in result.utterances} == {"mydata"}
    skipped = skipped_names(result)
    assert set(skipped) == {"i.wav", "missing.wav", "notes.txt"}
    assert "'excited'" in skipped["i.wav"]
    assert skipped["missing.wav"] == "file not found"


def test_csv_needs_path_and_label(tmp_path):
    (tmp_path / "bad.csv").write_text("file,emotion\na.wav,anger\n")
    with pytest.raises(ValueError, match="path, label"):
        index_corpus("csv", tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="CSV file"):
        index_corpus("csv", tmp_path)


def test_folder_fixture(tmp_path):
    root = tmp_path / "mydata"
    touch(root, "Angry/x.wav", "happy/session1/y.flac", "Neutral/z.WAV", "excited/w.wav",
          "loose.wav", "happy/readme.md")
    result = index_corpus("folder", root)
    check_invariants(result)
    assert {(Path(u.path).name, u.label) for u in result.utterances} == {
        ("x.wav", "anger"), ("y.flac", "happiness"), ("z.WAV", "neutral")}
    assert {(u.speaker, u.corpus) for u in result.utterances} == {("unknown", "mydata")}
    skipped = skipped_names(result)
    assert set(skipped) == {"w.wav", "loose.wav"}
    assert "'excited'" in skipped["w.wav"] and "label folder" in skipped["loose.wav"]


@pytest.mark.parametrize("text, expected", [
    ("angry", "anger"), ("ANGER", "anger"), (" Happy ", "happiness"), ("joy", "happiness"),
    ("sad", "sadness"), ("fearful", "fear"), ("disgusted", "disgust"), ("surprised", "surprise"),
    ("neu", "neutral"), ("bored", "boredom"), ("calm", "calm"), ("pleasant_surprised", "surprise"),
    ("excited", None), ("frustration", None), ("", None),
])
def test_normalise_label(text, expected):
    assert normalise_label(text) == expected


# --- errors and API ----------------------------------------------------------------------------

def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        index_corpus("emodb", tmp_path / "nowhere")


@pytest.mark.parametrize("name", [n for n in CORPORA if n != "csv"])
def test_empty_root(tmp_path, name):
    (tmp_path / "README.txt").write_text("not audio")
    with pytest.raises(ValueError, match=str(tmp_path)):
        index_corpus(name, tmp_path)


def test_wrong_folder_names_skipped_files(tmp_path):
    touch(tmp_path, "DC_a01.wav")
    with pytest.raises(ValueError, match="1 file\\(s\\) skipped"):
        index_corpus("emodb", tmp_path)


def test_unknown_adapter(tmp_path):
    with pytest.raises(ValueError, match="emodb"):
        index_corpus("iemocap", tmp_path)


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    touch(tmp_path, "emodb/03a01Fa.wav")
    monkeypatch.chdir(tmp_path)
    [u] = index_corpus("emodb", "emodb").utterances
    assert u.path == str(tmp_path / "emodb" / "03a01Fa.wav")


def test_manifest_round_trip(tmp_path):
    touch(tmp_path, "Actor_01/03-01-05-02-01-01-01.wav")
    rows = index_corpus("ravdess", tmp_path).utterances
    write_manifest(rows, tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv") == rows


# --- real corpora (../shared/data) -------------------------------------------------------------

def test_real_emodb():
    result = index_corpus("emodb", shared_data() / "emodb")
    check_invariants(result)
    assert result.skipped == []
    assert result.counts() == {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
                               "happiness": 71, "neutral": 79, "sadness": 62}
    assert len(result.utterances) == 535
    assert set(result.counts("speaker")) == {"03", "08", "09", "10", "11", "12", "13", "14", "15", "16"}
    assert "" not in result.counts("sex")


def test_real_savee():
    result = index_corpus("savee", shared_data() / "savee" / "ALL")
    check_invariants(result)
    assert result.skipped == []
    assert result.counts() == {e: (120 if e == "neutral" else 60) for e in
                               ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")}
    per_speaker = Counter((u.speaker, u.label) for u in result.utterances)
    assert {s for s, _ in per_speaker} == {"DC", "JE", "JK", "KL"}
    assert all(n == (30 if label == "neutral" else 15) for (_, label), n in per_speaker.items())


def test_real_ravdess():
    result = index_corpus("ravdess", shared_data() / "ravdess")
    check_invariants(result)
    assert result.skipped == []
    assert len(result.utterances) == 1440
    assert result.counts("speaker") == {f"{a:02d}": 60 for a in range(1, 25)}
    assert result.counts() == {e: (96 if e == "neutral" else 192) for e in
                               ("anger", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")}
    assert result.counts("sex") == {"female": 720, "male": 720}


def test_real_cremad():
    result = index_corpus("cremad", shared_data() / "cremad")
    check_invariants(result)
    assert result.skipped == []
    assert len(result.utterances) == 6
    assert set(result.counts()) == {"anger", "disgust", "fear", "happiness", "neutral", "sadness"}
    assert len(result.counts("speaker")) == 6
