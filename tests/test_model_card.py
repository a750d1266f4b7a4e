"""scripts/bundle_model.py writes the bundled model's card from a run's results alone."""
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
