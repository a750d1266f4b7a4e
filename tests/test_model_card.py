"""scripts/bundle_model.py writes the bundled model's card from a run's results alone."""
from pathlib import Path

from conftest import load_script
from emovit.config import load_recipe


def _card_module():
    return load_script("bundle_model")


def _report(wa, ua, **extra):
    return {"wa": wa, "ua": ua, "macro_f1": ua, **extra}


def test_card_reports_each_corpus_next_to_the_baseline_and_what_was_left_out():
    per_corpus = {"emodb": _report(0.7, 0.65, n=80), "savee": _report(0.5, 0.45, n=60)}
    results = {
        "protocol": "speaker", "seed": 0, "labels": ["anger", "neutral"],
        "split": {"sizes": {"train": 300, "val": 40, "test": 140},
                  "speakers": {"train": ["emodb:03", "savee:JE"], "val": ["emodb:09"],
                               "test": ["emodb:08", "emodb:11", "savee:DC"]}},
        "leakage": {"verdict": "speaker-independent"},
        "models": {
            "teacher": _report(0.6, 0.55, title="Teacher", params_m=2.91, epochs={"teacher": 8},
                               per_corpus=per_corpus),
            "student": _report(0.62, 0.58, title="Student", params_m=1.42, gmacs=0.18,
                               epochs={"match": 8, "student": 8}, selected_epoch={"match": 7, "student": 5},
                               per_corpus={"emodb": _report(0.71, 0.66, n=80), "savee": _report(0.52, 0.47, n=60)}),
            "opensmile": _report(0.64, 0.6, title="openSMILE ComParE_2016 + linear SVM", feature_set="ComParE_2016",
                                 per_corpus={"emodb": _report(0.8, 0.75, n=80), "savee": _report(0.4, 0.35, n=60)}),
        },
    }
    config = {"corpora": ["emodb", "savee"], "n_utterances": 480, "labels_left_out": {"surprise": 60},
              "utterances_per_corpus": {"emodb": 300, "savee": 180},
              "recipe": load_recipe("bundled-e8").to_dict(),
              "machine": {"cpu": "test CPU", "cpu_count": 2, "torch": "2.13.0"}}
    card = _card_module().card(results, config, "emovit reproduce --corpus emodb ...")
    assert "surprise (60 utterances)" in card
    assert "speaker-independent: no test speaker is in training" in card
    assert "| Student | 0.660 (0.710) | 0.470 (0.520) |" in card
    assert "| openSMILE ComParE_2016 + linear SVM | 0.750 (0.800) | 0.350 (0.400) |" in card
    assert "by knowledge transfer" in card and "8+8 epochs (weights of the best validation epoch: match 7, student 5)" in card
    assert "recipe `bundled-e8`: adam lr 0.0001, halved every 3 epochs, batch 4" in card
    assert "emodb: 80 clips of speakers 08, 11; savee: 60 clips of speakers DC" in card
    assert "emovit reproduce --corpus emodb ..." in card


def test_card_of_a_ce_only_student_with_peers_and_robustness():
    module = _card_module()
    per_corpus = {"emodb": _report(0.8, 0.75, n=80)}
    results = {
        "protocol": "speaker", "seed": 0, "labels": ["anger", "neutral"],
        "split": {"sizes": {"train": 300, "val": 40, "test": 80},
                  "speakers": {"train": ["emodb:03"], "val": ["emodb:09"], "test": ["emodb:08", "emodb:11"]}},
        "leakage": {"verdict": "speaker-independent"},
        "models": {"plain": _report(0.8, 0.75, title="Student", params_m=1.42, gmacs=0.18, epochs={"plain": 100},
                                    selected_epoch={"plain": 90}, per_corpus=per_corpus),
                   "timnet": _report(0.7, 0.65, title="timnet", per_corpus=per_corpus),
                   "opensmile": _report(0.72, 0.7, title="openSMILE ComParE_2016 + linear SVM", per_corpus=per_corpus)},
    }
    config = {"corpora": ["emodb"], "n_utterances": 420, "recipe": load_recipe("emovit").to_dict(),
              "machine": {"cpu": "test CPU", "cpu_count": 2, "torch": "2.13.0"}}
    condition = {"wa": 0.7, "ua": 0.6, "top_answer": {"label": "anger", "fraction": 0.3}}
    robustness = {"splits": {"split": {"conditions": {"full": condition, "crop_1s": condition},
                                       "joined": {"window": 4.0, "hop": 2.0, "timeline_wa": 0.6, "timeline_ua": 0.5,
                                                  "clip_wa_scored": 0.7},
                                       "targets": [{"target": "1 s crops within 10 points of full clips", "met": True}]}}}
    card = module.card(results, config, "emovit compare ...", "plain", robustness)
    assert "with cross-entropy alone (no teacher)" in card and "recipe `emovit`: adamw lr 0.0003" in card
    assert "| TIM-Net (Ye et al. 2023), its published recipe | 0.700 |" in card and "| timnet |" not in card
    assert "the student beats the openSMILE baseline" in card
    assert "| crop_1s | 0.700 | 0.600 | anger 0.30 |" in card and "1 s crops within 10 points of full clips: met" in card


def _pair_runs(tmp_path, write_tone):
    """Two runs of one split (four test clips of two corpora): RUN with the student, TIM with the TIM-Net expert,
    their results.json holding each model's WA on the test part, and the joined pair in RUN/models."""
    import csv
    import json

    import numpy as np
    from test_join import LABELS, save, student, timnet

    from emovit.inference import Recognizer
    from emovit.join import expert_answers, join

    run, tim = tmp_path / "run", tmp_path / "tim"
    rows = [{"part": "test", "path": str(write_tone(f"{i}.wav", freq=200.0 + 150 * i, seed=i)), "label": LABELS[i % 3],
             "speaker": f"s{i}", "corpus": ("emodb", "savee")[i % 2], "view": "0"} for i in range(4)]
    for folder in (run, tim):
        (folder / "models").mkdir(parents=True)
        with (folder / "split.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    save(student(), run / "models" / "plain.pt")
    save(timnet(), tim / "models" / "timnet-mel-duo.pt")
    join(run / "models" / "plain.pt", tim / "models" / "timnet-mel-duo.pt", run / "models" / "joined.pt")
    answers = expert_answers(Recognizer.load(run / "models" / "joined.pt", precision="fp32"), [r["path"] for r in rows])
    truth = np.array([LABELS.index(r["label"]) for r in rows])
    wa = {name: float((a == truth).mean()) for name, a in answers.items()}
    (run / "results.json").write_text(json.dumps({"models": {
        "plain": _report(wa["student's expert"], 0.5, title="Student", params_m=0.02),
        "opensmile": _report(0.5, 0.5, title="openSMILE ComParE_2016 + linear SVM")}}))
    (tim / "results.json").write_text(json.dumps({"models": {
        "timnet-mel-duo": _report(wa["TIM-Net's expert"], 0.5, title="timnet-mel-duo", params_m=0.001)}}))
    return run, tim, wa


def test_a_joined_pair_is_scored_on_the_runs_test_part_with_its_experts_rows(tmp_path, write_tone):
    import json

    import pytest

    module = _card_module()
    run, tim, wa = _pair_runs(tmp_path, write_tone)
    models = module.pair_models(run, tim)
    assert list(models) == ["joined", "plain", "opensmile", "timnet-mel-duo"]
    assert models["joined"]["wa"] == wa["together"] and models["joined"]["n"] == 4
    assert sorted(models["joined"]["per_corpus"]) == ["emodb", "savee"]
    from test_join import params, student, timnet
    assert models["joined"]["params"] == params(student()) + params(timnet())  # the two experts, nothing added
    assert models["plain"]["title"] == "its student expert alone (CE only)"
    # a pair whose student is not the run's student, or runs of two splits, are refused
    results = json.loads((run / "results.json").read_text())
    results["models"]["plain"]["wa"] += 0.25
    (run / "results.json").write_text(json.dumps(results))
    with pytest.raises(SystemExit, match="its student's expert gives WA"):
        module.pair_models(run, tim)
    (tim / "split.csv").write_text("part,path\n")
    with pytest.raises(SystemExit, match="different splits"):
        module.pair_models(run, tim)


def test_card_of_a_joined_pair_names_both_experts_and_their_recipes():
    module = _card_module()
    per_corpus = {"emodb": _report(0.8, 0.75, n=80), "savee": _report(0.6, 0.55, n=60)}
    base = {"emodb": _report(0.7, 0.7, n=80), "savee": _report(0.5, 0.5, n=60)}
    results = {
        "protocol": "speaker", "seed": 0, "labels": ["anger", "neutral"],
        "split": {"sizes": {"train": 300, "val": 40, "test": 140},
                  "speakers": {"train": ["emodb:03"], "val": ["emodb:09"], "test": ["emodb:08", "savee:DC"]}},
        "leakage": {"verdict": "speaker-independent"},
        "models": {"joined": _report(0.72, 0.68, title=module.PAIR_TITLES["joined"], params_m=1.4996, gmacs=0.182,
                                     per_corpus=per_corpus),
                   "plain": _report(0.7, 0.65, title="its student expert alone (CE only)", params_m=1.4177,
                                    epochs={"plain": 100}, selected_epoch={"plain": 83}, per_corpus=per_corpus),
                   "timnet-mel-duo": _report(0.6, 0.6, title="its TIM-Net expert alone", params_m=0.0819,
                                             epochs={"timnet-mel-duo": 500}, per_corpus=per_corpus),
                   "opensmile": _report(0.65, 0.6, title="openSMILE ComParE_2016 + linear SVM", per_corpus=base)},
    }
    machine = {"cpu": "test CPU", "cpu_count": 2, "torch": "2.13.0"}
    config = {"corpora": ["emodb", "savee"], "n_utterances": 480, "recipe": load_recipe("emovit").to_dict(),
              "machine": machine}
    temporal = {"recipe": load_recipe(str(Path(__file__).parents[1] / "benchmarks/peers/recipes/joined-robust.toml"))
                .to_dict(), "machine": {**machine, "cpu": "other CPU"}}
    card = module.card(results, config, "emovit compare ...", "joined", None, temporal)
    assert "two experts reading the same 128x128 log-Mel image" in card and "1.50M parameters, 0.18 GMACs" in card
    assert "1.42M parameters, trained with cross-entropy alone" in card and "best validation epoch: plain 83" in card
    assert ("33 filters, 0.08M parameters, trained with cross-entropy alone (no teacher); 500 epochs (the last "
            "epoch's weights); recipe `joined-robust`: adam (betas 0.93/0.98) lr 0.001") in card
    assert "4 views per training clip" in card.split("TIM-Net's network")[1]
    assert "| The pair: student + TIM-Net expert, log-probabilities averaged (shipped) | 0.720 | 0.680 |" in card
    assert "the pair beats the openSMILE baseline on this split: UA 0.680 vs 0.600, and on every corpus" in card
    assert "on test CPU (2 CPUs, torch 2.13.0); the TIM-Net expert's run on other CPU" in card


def test_the_peers_rows_come_from_a_run_of_the_same_split_only(tmp_path):
    """--peers-run: TIM-Net's and openSMILE + SVM's rows from another run of the identical split, never replacing a
    row the shipped model's run has; a run of another split is refused."""
    import json

    import pytest

    module = _card_module()
    run, peers, other = (tmp_path / name for name in ("run", "peers", "other"))
    for folder, split in ((run, "a"), (peers, "a"), (other, "b")):
        folder.mkdir()
        (folder / "split.csv").write_text(f"part,path\ntest,{split}.wav\n")
    rows = {"plain": _report(0.1, 0.1), "timnet": _report(0.62, 0.6), "opensmile": _report(0.65, 0.66)}
    (peers / "results.json").write_text(json.dumps({"models": rows}))
    (other / "results.json").write_text(json.dumps({"models": rows}))
    mine = {"plain": _report(0.7, 0.7), "opensmile": _report(0.5, 0.5)}
    assert module.peer_models(run, peers, mine) == {"timnet": rows["timnet"]}
    assert module.peer_models(run, peers, {"plain": mine["plain"]}) == {k: rows[k] for k in ("timnet", "opensmile")}
    with pytest.raises(SystemExit, match="different splits"):
        module.peer_models(run, other, mine)


def test_the_card_says_how_much_noise_an_expert_trained_with():
    module = _card_module()
    recipe = load_recipe(Path(__file__).parents[1] / "benchmarks/peers/recipes/emovit-noise-mild.toml")
    models = {"plain": {"epochs": {"plain": 100}, "selected_epoch": {"plain": 91}}}
    assert "speech-shaped noise at 5-25 dB SNR mixed into 30% of the images at every step" in module._training(
        recipe, models, "plain")
    assert "speech-shaped" not in module._training(load_recipe("emovit"), models, "plain")


def test_the_card_names_the_kind_of_noise_an_expert_trained_with():
    module = _card_module()
    recipe = load_recipe(Path(__file__).parents[1] / "benchmarks/peers/recipes/emovit-noise-mixed.toml")
    models = {"plain": {"epochs": {"plain": 100}, "selected_epoch": {"plain": 91}}}
    assert "white or speech-shaped (drawn per image) noise at" in module._training(recipe, models, "plain")
