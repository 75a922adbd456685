"""Agreement between two raters' labels (a judge and people, two judges): agreement rate, Cohen's kappa, and the
judge's agreement with people's votes on a run's records, and both with intervals."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from analysis.stats import percentile_bounds, wilson_interval

VOTES = ("A", "B", "tie", "both_bad")
# The judge only says A, B or tie. "Both are bad" says neither answer is better, so for agreement and kappa it
# is a tie: a judge that calls a tie (or scores both equally) on two bad answers agrees with the person.
VOTE_AS_VERDICT = {"A": "A", "B": "B", "tie": "tie", "both_bad": "tie"}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _paired_labels(labels_a: Sequence, labels_b: Sequence) -> list[tuple]:
    if len(labels_a) != len(labels_b):
        raise ValueError(f"label lists differ in length: {len(labels_a)} vs {len(labels_b)}")
    # None is a missing label (an unparsed verdict, a skipped vote), not a category to agree on.
    return [(a, b) for a, b in zip(labels_a, labels_b) if a is not None and b is not None]


def agreement_rate(labels_a: Sequence, labels_b: Sequence) -> float | None:
    """Share of items with the same label on both sides; pairs with a None label are skipped."""
    pairs = _paired_labels(labels_a, labels_b)
    return _share(sum(a == b for a, b in pairs), len(pairs))


def cohen_kappa(labels_a: Sequence, labels_b: Sequence) -> float | None:
    """Cohen's kappa (po - pe) / (1 - pe); None when there are no pairs or pe == 1 (both raters constant)."""
    pairs = _paired_labels(labels_a, labels_b)
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    categories = {a for a, _ in pairs} | {b for _, b in pairs}
    expected = sum((sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in categories)
    if expected >= 1 - 1e-12:
        return None
    return (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    n_votes: int  # votes read
    n_usable: int  # records with both a judge verdict and a (latest) vote: the pairs compared
    agreement: float | None  # share of usable records where judge and person agree
    kappa: float | None  # Cohen's kappa over the same pairs; None when undefined (no pairs, or both constant)

    def to_dict(self) -> dict:
        return asdict(self)


def judge_agreement(records: list[dict], votes: list[dict]) -> Agreement:
    """How often the judge's winner matches the human vote, and Cohen's kappa, over records that have both.

    A record is keyed by (id, preset), since a run with several presets has one record per prompt and preset.
    When one record has several votes (a person changed their mind, or several voters) the latest counts.
    Votes for records not in the run and records with no judge verdict (unparsed) are not usable.
    """
    latest = {}
    for vote in votes:
        latest[(vote.get("id"), vote.get("preset"))] = VOTE_AS_VERDICT.get(vote.get("vote"))
    judge_labels, human_labels = [], []
    for record in records:
        human = latest.get((record.get("id"), record.get("preset")))
        if human is None or record.get("winner") is None:
            continue
        judge_labels.append(record["winner"])
        human_labels.append(human)
    return Agreement(n_votes=len(votes), n_usable=len(judge_labels),
                     agreement=agreement_rate(judge_labels, human_labels),
                     kappa=cohen_kappa(judge_labels, human_labels))


@dataclass
class AgreementCI:
    """Agreement and Cohen's kappa between two raters, each with a 95% interval (None where undefined)."""

    n: int  # pairs with a label on both sides
    agreement: float | None
    agreement_low: float | None
    agreement_high: float | None
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def agreement_with_ci(labels_a: Sequence, labels_b: Sequence, seed: int = 0, resamples: int = 2000,
                      level: float = 0.95) -> AgreementCI:
    """Agreement with Wilson's interval and Cohen's kappa with a percentile bootstrap over the pairs.

    Wilson's, not the bootstrap's, for the agreement: at 12 of 12 a bootstrap collapses to 100%-100%. Kappa has no
    closed form worth trusting on small samples, so its pairs are resampled; a resample where kappa is undefined (one
    label throughout on both sides) is left out of the interval rather than counted as 0.
    """
    pairs = _paired_labels(labels_a, labels_b)
    n = len(pairs)
    if not n:
        return AgreementCI(0, None, None, None, None, None, None)
    same = sum(a == b for a, b in pairs)
    low, high = wilson_interval(same, n, level)
    kappa = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
    categories = sorted({str(x) for pair in pairs for x in pair})
    code = {c: i for i, c in enumerate(categories)}
    a_codes = np.array([code[str(a)] for a, _ in pairs])
    b_codes = np.array([code[str(b)] for _, b in pairs])
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    ra, rb = a_codes[picks], b_codes[picks]
    observed = (ra == rb).mean(axis=1)
    k = len(categories)
    share_a = np.stack([(ra == c).mean(axis=1) for c in range(k)], axis=1)
    share_b = np.stack([(rb == c).mean(axis=1) for c in range(k)], axis=1)
    expected = (share_a * share_b).sum(axis=1)
    defined = expected < 1 - 1e-12
    kappas = (observed[defined] - expected[defined]) / (1 - expected[defined])
    k_low, k_high = percentile_bounds(kappas, level) if kappa is not None and kappas.size else (None, None)
    return AgreementCI(n, same / n, low, high, kappa, k_low, k_high)
