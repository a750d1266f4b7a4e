"""scripts/peer_tables.py: BENCHMARKS.md's state-of-the-art tables from the peer runs' results.json."""
import json

from conftest import load_script

peer_tables = load_script("peer_tables")


def _score(mean, std=0.01):
    return {"mean": mean, "std": std}


def _run(runs, name, models):
    folder = runs / name
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"folds": [{}] * 10, "models": {
        m: {"wa": _score(wa), "ua": _score(wa - 0.01), "pooled": {"wa": wa, "ua": wa - 0.01}, "epochs": {"plain": 100}}
        for m, wa in models.items()}}))


def test_rows_of_every_group_with_sizes_and_the_published_figures(tmp_path):
    _run(tmp_path, "emodb-kfold-emovit", {"plain": 0.776, "timnet": 0.807, "opensmile": 0.860})
    _run(tmp_path, "emodb-kfold-timnet-raw", {"timnet": 0.85})
    profile = {"student": {"params_m": 1.418, "gmacs_run": 0.165, "ms_per_clip": 2.6}}
    text = peer_tables.table(tmp_path, "emodb", "kfold", profile)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[1] for r in rows[:4]] == ["0.776 ± 0.010", "0.850 ± 0.010", "0.807 ± 0.010", "0.860 ± 0.010"]
    assert "raw MFCCs" in rows[1] and "standardised" in rows[2]
    assert "| 1.418 | 0.165 | 2.6 |" in rows[0] and rows[1].endswith("| — | — | — |")
    assert rows[-1].startswith("| *published:* TIM-Net") and "| 0.903 | 0.892 |" in rows[-1]
    assert peer_tables.table(tmp_path, "savee", "kfold", profile) is None


def test_the_emovit_groups_timnet_row_is_titled_by_the_input_its_run_recorded(tmp_path):
    _run(tmp_path, "savee-emobox-emovit", {"plain": 0.6, "timnet": 0.5})
    (tmp_path / "savee-emobox-emovit" / "config.json").write_text(json.dumps(
        {"descriptions": {"timnet": "TIM-Net (Ye et al. 2023): ... on 39 raw (unstandardised) MFCCs"}}))
    text = peer_tables.table(tmp_path, "savee", "emobox", {})
    (row,) = [line for line in text.splitlines() if line.startswith("| TIM-Net")]
    assert "raw MFCCs" in row and "| 0.500 ± 0.010 |" in row


def test_validation_is_read_at_the_epoch_each_fold_kept(tmp_path):
    """The score a row may be chosen by: each fold's validation UA at its selected epoch, from either layout
    of the history (a run's folds/N/NAME/history.json or benchmarks' folds/N/history-NAME.json)."""
    run = tmp_path / "emodb-kfold-emovit"
    for fold, (kept, kept_ua) in {"1": (2, 0.8), "2": (1, 0.6)}.items():
        folder = run / "folds" / fold
        (folder / "plain").mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"models": {"plain": {"selected_epoch": {"plain": kept}}}}))
        history = [{"val_ua": 0.1}, {"val_ua": 0.1}]
        history[kept - 1]["val_ua"] = kept_ua
        target = folder / "history-plain.json" if fold == "1" else folder / "plain" / "history.json"
        target.write_text(json.dumps(history))
    mean, std = peer_tables.validation(run, "plain")
    assert (round(mean, 6), round(std, 6)) == (0.7, 0.1)
    assert peer_tables.validation(run, "timnet") is None


def test_loso_is_tabulated_with_the_svm_groups_reference_and_no_published_row(tmp_path):
    _run(tmp_path, "emodb-loso-warm", {"plain": 0.75})
    _run(tmp_path, "emodb-loso-svm", {"opensmile": 0.80})
    text = peer_tables.table(tmp_path, "emodb", "loso", {})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[0] for r in rows] == [
        "| emovit student pre-trained on the two other corpora, then recipe `emovit` (CE only)",
        "| openSMILE ComParE 2016 + linear SVM"]
    assert "| 0.800 ± 0.010 |" in rows[1] and "loso" in peer_tables.PROTOCOLS


def test_the_paper_recipes_ce_only_student_alone_is_a_row_of_its_own(tmp_path):
    _run(tmp_path, "emodb-loso-paper-plain", {"plain": 0.70})
    _run(tmp_path, "emodb-loso-svm", {"opensmile": 0.80})
    text = peer_tables.table(tmp_path, "emodb", "loso", {"student": {"params_m": 1.418, "gmacs_run": 0.165,
                                                                     "ms_per_clip": 2.8}})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| student, CE only (recipe `paper-e20`) | 0.700 ± 0.010 |") and "| 1.418 |" in rows[0]


def test_logit_distillation_is_a_row_beside_the_papers_knowledge_transfer(tmp_path):
    _run(tmp_path, "emodb-emobox-paper", {"teacher": 0.74, "student": 0.75, "plain": 0.78})
    _run(tmp_path, "emodb-emobox-paper-kd", {"teacher": 0.74, "student": 0.77})
    text = peer_tables.table(tmp_path, "emodb", "emobox", {})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    titles = [r.split(" | ")[0] for r in rows]
    assert titles[:2] == ["| student with knowledge transfer (recipe `paper-e20`)",
                          "| student with knowledge transfer, feature L1 + logit distillation (KL at T 4, weight 1; "
                          "recipe `paper-e20`)"]
    assert "| 0.770 ± 0.010 |" in rows[1]
    assert sum(t.startswith("| teacher") for t in titles) == 1  # the kd group's teacher is the paper group's


def test_the_svm_group_is_one_row_with_the_emovit_groups_svm_when_they_scored_the_same(tmp_path):
    _run(tmp_path, "savee-kfold-emovit", {"plain": 0.6, "timnet": 0.7, "opensmile": 0.72})
    _run(tmp_path, "savee-kfold-svm", {"opensmile": 0.72})
    svm_rows = lambda: [line for line in peer_tables.table(tmp_path, "savee", "kfold", {}).splitlines()
                        if line.startswith("| openSMILE")]
    assert len(svm_rows()) == 1
    _run(tmp_path, "differing", {"opensmile": 0.70})  # a differing SVM run is not hidden
    (tmp_path / "savee-kfold-svm" / "results.json").write_bytes((tmp_path / "differing" / "results.json").read_bytes())
    assert [r.split(" | ")[1] for r in svm_rows()] == ["0.720 ± 0.010", "0.700 ± 0.010"]


def test_the_paper_recipe_warm_started_is_a_row_after_the_warm_started_recipe_emovit(tmp_path):
    _run(tmp_path, "emodb-kfold-warm", {"plain": 0.80})
    _run(tmp_path, "emodb-kfold-paper-warm", {"plain": 0.83})
    text = peer_tables.table(tmp_path, "emodb", "kfold", {})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[1].startswith("| student pre-trained on the two other corpora, then recipe `paper-e20` (CE only) "
                              "| 0.830 ± 0.010 |") and "paper-warm 10" in text


def test_the_recipe_validation_picked_is_the_row_after_recipe_emovits_student(tmp_path):
    _run(tmp_path, "emodb-emobox-emovit", {"plain": 0.759, "opensmile": 0.84})
    _run(tmp_path, "emodb-emobox-emovit-pick", {"plain": 0.80})
    text = peer_tables.table(tmp_path, "emodb", "emobox", {"student": {"params_m": 1.418}})
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| emovit student (recipe `emovit`, CE only) | 0.759")
    assert rows[1].startswith("| emovit student, recipe `emovit` without masks and label smoothing") and "| 0.800 ± 0.010 |" in rows[1]
    assert "| 1.418 |" in rows[1] and "emovit-pick 10" in text


def test_a_groups_ce_only_pair_that_scored_as_the_paper_plain_group_is_one_row(tmp_path):
    """The paper group trains its CE-only student as the paper-plain group does (same recipe, seed and folds):
    identical scores are one model shown once, under the paper-plain title; the group's other rows stay."""
    _run(tmp_path, "emodb-kfold-paper-plain", {"plain": 0.82})
    _run(tmp_path, "emodb-kfold-paper", {"student": 0.80, "teacher": 0.79, "plain": 0.82})
    rows = lambda: [line for line in peer_tables.table(tmp_path, "emodb", "kfold", {}).splitlines()
                    if line.startswith("| student, CE only") or line.startswith("| student with") or
                    line.startswith("| teacher")]
    assert [r.split(" | ")[1] for r in rows()] == ["0.820 ± 0.010", "0.800 ± 0.010", "0.790 ± 0.010"]
    _run(tmp_path, "differing", {"student": 0.80, "teacher": 0.79, "plain": 0.81})  # a differing pair is not hidden
    (tmp_path / "emodb-kfold-paper" / "results.json").write_bytes((tmp_path / "differing" / "results.json").read_bytes())
    assert [r.split(" | ")[1] for r in rows()] == ["0.820 ± 0.010", "0.800 ± 0.010", "0.810 ± 0.010", "0.790 ± 0.010"]


def _experts(run, folds, together_wa, val_ua=0.9):
    """A joined run's experts.json as scripts/expert_accuracy.py writes it (only what a row reads)."""
    score = lambda v: {"mean": v, "std": 0.02}
    (run / "experts.json").write_text(json.dumps({"folds": [str(i + 1) for i in range(folds)],
        "test": {"together": {"wa": score(together_wa), "ua": score(together_wa - 0.01), "n_folds": folds,
                              "pooled": {"wa": together_wa, "ua": together_wa - 0.02}}},
        "val": {"together": {"ua": score(val_ua)}}}))


def test_a_joined_pair_is_a_row_from_its_experts_once_they_cover_every_fold(tmp_path):
    _run(tmp_path, "emodb-kfold-joined", {"plain": 0.82, "timnet-mel-duo": 0.88})
    run = tmp_path / "emodb-kfold-joined"
    _experts(run, 8, 0.90)  # scored on 8 of the run's 10 folds: no row yet
    assert "joined:" not in peer_tables.table(tmp_path, "emodb", "kfold", {})
    _experts(run, 10, 0.905, val_ua=0.886)
    text = peer_tables.table(tmp_path, "emodb", "kfold", {"student-duo": {"params_m": 1.52}})
    (row,) = [line for line in text.splitlines() if line.startswith("| joined:")]
    assert "| 0.905 ± 0.020 | 0.895 ± 0.020 | 0.905 / 0.885 | 100+100 | 1.520 |" in row
    assert "joined together 0.886 ± 0.020" in text
