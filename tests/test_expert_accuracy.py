"""scripts/expert_accuracy.py: a joined run's expert scores summed over folds as `emovit compare` sums a model's."""
from conftest import load_script

expert_accuracy = load_script("expert_accuracy")


def _fold(together_confusion):
    """One fold's experts.json: each expert's report on test and validation (two classes)."""
    def report(cm):
        n = sum(map(sum, cm))
        recalls = [cm[i][i] / sum(cm[i]) for i in range(2)]
        return {"wa": (cm[0][0] + cm[1][1]) / n, "ua": sum(recalls) / 2, "macro_f1": 0.0, "confusion": cm}
    plain = [[1, 1], [0, 2]]
    return {part: {"student's expert": report(plain), "TIM-Net's expert": report(plain),
                   "together": report(together_confusion)} for part in ("test", "val")}


def test_folds_are_summed_with_population_std_and_pooled_from_the_confusions():
    summed = expert_accuracy.summary([_fold([[2, 0], [0, 2]]), _fold([[1, 1], [1, 1]])], ["1", "2"])
    together = summed["test"]["together"]
    assert together["wa"]["folds"] == [1.0, 0.5] and together["wa"]["mean"] == 0.75
    assert together["wa"]["std"] == 0.25  # population (ddof 0), as every other row of the tables
    assert together["pooled"] == {"wa": 0.75, "ua": 0.75, "n": 8}
    text = expert_accuracy.table(summed)
    assert "   2  test       0.750 /     0.750       0.750 /     0.750       0.500 /     0.500" in text
    assert "test together: WA 0.750 ± 0.250, UA 0.750 ± 0.250 over 2 folds (population std); pooled WA 0.750" in text
