"""A judge measured against gold labels: pairwise verdicts, numeric scores and classes (analysis only, no files).

Library statistics where they exist (scipy.stats for correlations, sklearn.metrics for kappa, precision / recall /
F1 and confusion matrices); what is specific to judging (ties counting half, position and length bias, the
length-balanced subset, calibration bins) is written out here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from analysis.stats import mean_with_ci, wilson_interval

VERDICTS = ("A", "B", "tie")
LENGTH_BUCKETS = (("0-99", 0, 100), ("100-299", 100, 300), ("300-699", 300, 700), ("700+", 700, math.inf))
CALIBRATION_BINS = ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
FIRST_SHOWN = {"AB": "A", "BA": "B"}


@dataclass
class PairOutcome:
    gold: str  # "A", "B" or "tie"
    predicted: str | None  # "A", "B", "tie"; None = the judge's reply was unparsed
    len_a: int  # answer lengths in characters
    len_b: int
    # verdicts of each answer order in the original labels: in "BA", verdict "B" is the answer shown first
    order_verdicts: dict[str, str | None] = field(default_factory=dict)
    p_predicted: float | None = None  # the judge's stated probability of its verdict (probabilities method)
    seconds: float = 0.0


def _share(part: int, whole: int) -> float | None:
    return float(part / whole) if whole else None


def _number(value) -> float | None:
    """A plain float, or None for a missing or undefined (nan) value."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def credit(gold: str, predicted: str | None) -> float:
    """1 when the verdict matches, 1/2 when exactly one of the two is a tie, 0 otherwise (unparsed included)."""
    if predicted is None:
        return 0.0
    if predicted == gold:
        return 1.0
    return 0.5 if "tie" in (gold, predicted) else 0.0


def kappa(gold: Sequence, predicted: Sequence) -> float | None:
    """Cohen's kappa over the rows with a prediction; None when undefined."""
    from sklearn.metrics import cohen_kappa_score

    pairs = [(g, p) for g, p in zip(gold, predicted) if p is not None]
    if len(pairs) < 2 or len({x for pair in pairs for x in pair}) < 2:
        return None
    return _number(cohen_kappa_score([g for g, _ in pairs], [p for _, p in pairs]))


def length_balanced(outcomes: Sequence[PairOutcome]) -> list[PairOutcome]:
    """As many decisive rows where the longer answer wins as rows where the shorter one wins (input order kept
    within each group), so that "the longer answer wins" scores exactly 1/2 on them."""
    longer, shorter = [], []
    for o in outcomes:
        if o.gold in ("A", "B") and o.len_a != o.len_b:
            (longer if (o.gold == "A") == (o.len_a > o.len_b) else shorter).append(o)
    k = min(len(longer), len(shorter))
    return longer[:k] + shorter[:k]


def pairwise_metrics(outcomes: Sequence[PairOutcome], seed: int = 0, resamples: int = 2000) -> dict:
    """Agreement with gold verdicts, and the judge's position and length biases (see the keys below)."""
    n = len(outcomes)
    credits = [credit(o.gold, o.predicted) for o in outcomes]
    interval = mean_with_ci(credits, seed, resamples)
    # Wilson's interval, not the bootstrap's: at 12 of 12 the bootstrap collapses to 100%-100%, which claims a
    # certainty 12 items cannot give (a tie's half credit counts as half an agreement).
    wilson = wilson_interval(sum(credits), n)
    decisive = [o for o in outcomes if o.gold in ("A", "B") and o.predicted in ("A", "B")]
    both_orders = [o for o in outcomes if o.order_verdicts.get("AB") is not None
                   and o.order_verdicts.get("BA") is not None]
    order_votes = [(order, v) for o in outcomes for order, v in o.order_verdicts.items()
                   if v in ("A", "B") and order in FIRST_SHOWN]
    balanced = length_balanced(outcomes)
    longest = [credit(o.gold, "A" if o.len_a > o.len_b else "B") for o in balanced]
    return {
        "n": n,
        "unparsed_share": _share(sum(o.predicted is None for o in outcomes), n),
        "agreement": interval.mean,
        "agreement_ci": list(wilson) if wilson else None,
        "agreement_ci_method": "wilson",
        "agreement_without_ties": _share(sum(o.gold == o.predicted for o in decisive), len(decisive)),
        "kappa": kappa([o.gold for o in outcomes], [o.predicted for o in outcomes]),
        "position_consistency": _share(sum(o.order_verdicts["AB"] == o.order_verdicts["BA"] for o in both_orders),
                                       len(both_orders)),
        "first_slot_share": _share(sum(v == FIRST_SHOWN[order] for order, v in order_votes), len(order_votes)),
        "length_balanced_agreement": (sum(credit(o.gold, o.predicted) for o in balanced) / len(balanced)
                                      if balanced else None),
        "length_balanced_n": len(balanced),
        "longest_baseline": sum(longest) / len(longest) if longest else None,
        "seconds_per_item": (sum(o.seconds for o in outcomes) / n) if n else None,
        "by_length_bucket": by_length_bucket(outcomes),
        "calibration": calibration(outcomes),
    }


def by_length_bucket(outcomes: Sequence[PairOutcome]) -> dict[str, dict]:
    """Agreement by the absolute length gap |len_a - len_b| in characters."""
    buckets = {}
    for name, low, high in LENGTH_BUCKETS:
        inside = [o for o in outcomes if low <= abs(o.len_a - o.len_b) < high]
        buckets[name] = {"n": len(inside), "agreement": (sum(credit(o.gold, o.predicted) for o in inside)
                                                         / len(inside)) if inside else None}
    return buckets


def calibration(outcomes: Sequence[PairOutcome]) -> list[dict]:
    """Bins of the stated probability of the verdict, each with how often the verdict was right."""
    stated = [o for o in outcomes if o.p_predicted is not None]
    if not stated:
        return []
    bins = []
    for low, high in CALIBRATION_BINS:
        last = high == CALIBRATION_BINS[-1][1]
        inside = [o for o in stated if low <= o.p_predicted < high or (last and o.p_predicted == high)]
        bins.append({"low": low, "high": high, "n": len(inside),
                     "mean_stated": (sum(o.p_predicted for o in inside) / len(inside)) if inside else None,
                     "observed": _share(sum(o.predicted == o.gold for o in inside), len(inside))})
    return bins


def score_metrics(gold: Sequence[float], predicted: Sequence[float | None]) -> dict:
    """Correlations of the judge's scores with gold scores, over the rows it scored."""
    from scipy import stats

    pairs = [(float(g), float(p)) for g, p in zip(gold, predicted) if p is not None]
    xs, ys = [g for g, _ in pairs], [p for _, p in pairs]
    usable = len(pairs) >= 2 and len(set(xs)) > 1 and len(set(ys)) > 1
    return {
        "n": len(gold),
        "unparsed_share": _share(sum(p is None for p in predicted), len(gold)),
        "pearson": _number(stats.pearsonr(xs, ys).statistic) if usable else None,
        "spearman": _number(stats.spearmanr(xs, ys).statistic) if usable else None,
        "kendall": _number(stats.kendalltau(xs, ys).statistic) if usable else None,
        "mean_absolute_error": (sum(abs(g - p) for g, p in pairs) / len(pairs)) if pairs else None,
    }


def class_metrics(gold: Sequence[str], predicted: Sequence[str | None], classes: Sequence[str]) -> dict:
    """Accuracy (unparsed counts as wrong), per-class precision / recall / F1, macro F1 and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = len(gold)
    labels = list(classes)
    pairs = [(g, p) for g, p in zip(gold, predicted) if p is not None]
    result = {"n": n, "unparsed_share": _share(sum(p is None for p in predicted), n),
              "accuracy": _share(sum(g == p for g, p in zip(gold, predicted)), n),
              "per_class": {}, "f1_macro": None,
              "confusion_matrix": {"labels": labels, "matrix": [[0] * len(labels) for _ in labels]},
              "kappa": kappa(gold, predicted)}
    if not pairs:
        return result
    y_true, y_pred = [g for g, _ in pairs], [p for _, p in pairs]
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    result["per_class"] = {c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                               "support": int(support[i])} for i, c in enumerate(labels)}
    result["f1_macro"] = float(sum(f1) / len(f1))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    result["confusion_matrix"]["matrix"] = [[int(x) for x in row] for row in matrix]
    return result
