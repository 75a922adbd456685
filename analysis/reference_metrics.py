"""Reference metrics: ROUGE-L F1 and sentence BLEU of an answer against a prompt's reference answer."""
from __future__ import annotations

from functools import lru_cache

from basics import UserFacingError

# Enough digits for averages; drops float noise such as sacrebleu's 100.00000000000004 for identical text.
DIGITS = 4


class MetricsError(UserFacingError):
    """A package the reference metrics need is missing."""


@lru_cache(maxsize=1)
def _rouge_scorer():
    # Imported on first use so that loading the judge package does not pay for nltk; rougeL (not rougeLsum)
    # and the Porter stemmer need no NLTK data, so nothing is downloaded.
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:
        raise MetricsError("ROUGE-L needs the rouge-score package: pip install -r requirements.txt") from exc
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def score_rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 in 0..1: the longest common word subsequence, lower-cased and stemmed.

    rouge-score keeps only the letters a-z and digits, so text in other scripts scores 0.
    """
    return round(_rouge_scorer().score(reference, answer)["rougeL"].fmeasure, DIGITS)


def score_bleu(answer: str, reference: str) -> float:
    """Sentence BLEU in 0..100 (sacrebleu defaults: 13a tokens, exp smoothing, effective n-gram order)."""
    try:
        import sacrebleu
    except ImportError as exc:
        raise MetricsError("BLEU needs the sacrebleu package: pip install -r requirements.txt") from exc
    return round(sacrebleu.sentence_bleu(answer, [reference]).score, DIGITS)


def reference_metrics(answer: str, reference: str | None) -> dict | None:
    """{"rouge_l": F1 0..1, "bleu": 0..100} of the answer against the reference; None when there is none."""
    if not (reference or "").strip():
        return None
    answer = answer or ""
    return {"rouge_l": score_rouge_l(answer, reference), "bleu": score_bleu(answer, reference)}
