"""What a run's numbers mean, in words a stakeholder can act on: the closing sentence (is the difference between A and
B real?), the win rate at equal answer length, the ties that were too close to call, and the answers cut off at the
token limit. Shared by the Results page, the HTML report, the Batch tab and the CLI's closing summary."""
from __future__ import annotations

from analysis.difference import ALPHA, POWER
from analysis.length_control import BOOTSTRAP, WILSON
from analysis.margins import SCALE_STEP
from runs.store import load_run
from runs.summary import with_new_fields
from runs.views import NO_SCORES

CLOSE = 0.03  # a length-controlled rate this near the raw one: holding length equal changes little
NO_TOTALS = ("the judge names the better answer and gives no scores, so no paired difference in totals can be "
             "given")
FEW_PROMPTS = 5  # fewer scored pairs than this: intervals are artefacts (as runs/views.FEW_RECORDS says of win rates)


def _points(value: float) -> str:
    return f"{value:.2f} point" + ("" if round(abs(value), 2) == 1 else "s")


def _needed_words(diff: dict) -> str:
    """How many more prompts the power calculation estimates, in words ('' where it cannot say)."""
    mean, n, needed = diff.get("mean"), diff.get("n") or 0, diff.get("prompts_needed")
    if mean is None:
        return ""
    if mean == 0:
        return "; the totals were equal on average, so more prompts would not be expected to show a difference"
    if needed is None:
        return ""
    how = (f"{POWER:.0%} power, {ALPHA:.0%} two-sided; an estimate that takes this run's difference and its spread "
           "as the true ones")
    more = needed - n
    if more > 0:
        return (f"; to detect a difference of {_points(abs(mean))}, an estimated {more:,} more prompts would be needed "
                f"({needed:,} in all; {how})")
    return (f"; a power calculation puts the prompts needed to detect {_points(abs(mean))} at {needed:,}, about what "
            f"this run has ({how}): the difference is at the edge of detection")


FEW, NONE, BETTER, MIXED = "few", "none", "better", "mixed"


def difference_verdict(part: dict, scored: bool = True) -> tuple[str, str | None]:
    """(kind, side) for a summary: FEW prompts for intervals; NONE detectable (the paired difference's interval
    includes 0); `side` BETTER (both the difference's and the win rate's intervals exclude no change); or `side`
    higher on average but its win rate's interval includes 50% (MIXED). A verdict-only judge (`scored` False: it
    names the better answer and gives no scores) is read on the win rate alone: BETTER where its interval excludes
    50%, NONE where it includes it, FEW with fewer decided prompts than an interval needs."""
    stats = part.get("stats") or {}
    rate, diff = stats.get("win_rate") or {}, stats.get("difference") or {}
    if not scored:
        if _decided(rate) < FEW_PROMPTS or rate.get("low") is None:
            return FEW, None
        if rate["low"] <= 0.5 <= rate["high"]:
            return NONE, None
        return BETTER, "A" if rate["low"] > 0.5 else "B"
    if (diff.get("n") or 0) < FEW_PROMPTS or diff.get("low") is None:
        return FEW, None
    if diff["low"] <= 0 <= diff["high"]:
        return NONE, None
    side = "A" if diff["mean"] > 0 else "B"
    agrees = rate.get("low") is None or (rate["low"] > 0.5 if side == "A" else rate["high"] < 0.5)
    return (BETTER if agrees else MIXED), side


def _decided(rate: dict) -> int:
    """Records with a verdict (A won, B won or a tie) behind a win rate."""
    return sum(rate.get(key) or 0 for key in ("wins", "ties", "losses"))


def conclusion_sentence(part: dict, max_total: float | None = None, scored: bool = True) -> str:
    """One sentence on whether A or B is better, for a summary (or one preset's part of it): the win rate and the
    paired difference in mean total, each with its 95% interval, and "no detectable difference" when the
    difference's interval includes no change, with the prompts a power calculation says would be needed. For a
    verdict-only judge (`scored` False) the win rate with its interval, and why there is no difference in totals."""
    if not scored:
        return _verdict_only_sentence(part)
    stats = part.get("stats") or {}
    rate, diff = stats.get("win_rate") or {}, stats.get("difference") or {}
    n = diff.get("n") or 0
    kind, better = difference_verdict(part)
    if kind == FEW:
        return (f"Too few prompts with both answers scored ({n}) to tell whether A or B is better: run a prompt set "
                f"of at least {FEW_PROMPTS}{_needed_words(diff)}.")
    of = f" of {max_total:g}" if max_total else ""
    mean, low, high = diff["mean"], diff["low"], diff["high"]
    higher = "higher" if mean > 0 else "lower"
    scored = (f"A's total was {_points(abs(mean))} {higher} than B's on average (95% interval {low:+.2f} to "
              f"{high:+.2f}{of}, over {n} prompts)") if mean else (
              f"A's and B's totals were equal on average (95% interval {low:+.2f} to {high:+.2f}{of}, over {n} "
              "prompts)")
    won = ""
    if rate.get("rate") is not None and rate.get("low") is not None:
        won = (f"A won {rate['rate']:.0%} of the decided prompts (95% interval {rate['low']:.0%}-"
               f"{rate['high']:.0%}, ties counted half) and ")
    if kind == NONE:
        return f"No detectable difference between A and B: {won}{scored}, an interval that includes no change" \
               f"{_needed_words(diff)}."
    if kind == BETTER:
        return f"{better} is better: {won}{scored}."
    return (f"{better} scored higher on average, but not on most prompts: {won}{scored}; the win rate's interval "
            "still includes 50%, so it is not better on a typical prompt yet.")


def _verdict_only_sentence(part: dict) -> str:
    """The closing sentence where the judge names the better answer and gives no scores: the win rate alone."""
    rate = (part.get("stats") or {}).get("win_rate") or {}
    decided = _decided(rate)
    kind, better = difference_verdict(part, scored=False)
    if kind == FEW:
        return (f"Too few decided prompts ({decided}) for an interval on A's win rate, so whether A or B is better "
                f"cannot be told yet: run a prompt set of at least {FEW_PROMPTS}; {NO_TOTALS}.")
    won = (f"A won {rate['rate']:.0%} of the {decided} decided prompts (95% interval {rate['low']:.0%}-"
           f"{rate['high']:.0%}, ties counted half)")
    if kind == NONE:
        return f"No detectable difference between A and B: {won}, an interval that includes 50%; {NO_TOTALS}."
    return f"{better} is better: {won}, an interval that excludes 50%; {NO_TOTALS}."


def length_controlled_words(part: dict) -> str:
    """A's win rate at equal answer length beside the raw one, and what the gap between them means; the reason
    where there is no number ("not enough data: ..."); '' for a summary without it."""
    stats = part.get("stats") or {}
    lc, raw_rate = stats.get("length_controlled"), stats.get("win_rate") or {}
    if not lc:
        return ""
    if lc.get("rate") is None:
        return lc.get("reason") or "not enough data"
    rate, raw, n = lc["rate"], lc["raw"], lc["n"]
    how = ("bootstrap over records; a logistic model of the verdict on the answers' length ratio"
           if lc.get("interval") == BOOTSTRAP else "Wilson's")
    words = (f"at equal length A would win {rate:.0%} of the decided prompts (95% interval {lc['low']:.0%}-"
             f"{lc['high']:.0%}, {how}; {n} records), against {raw:.0%} raw; ")
    trait = "longer" if (lc.get("slope") or 0) > 0 else "shorter"
    if lc.get("interval") == WILSON:
        words += "the judge gave the same verdict on every decided prompt whatever the lengths, so it is the raw rate"
    elif lc.get("equal") == n:
        words += "every pair of answers was equally long, so it is the raw rate"
    elif abs(rate - raw) < CLOSE:
        words += "holding length equal changes little: length does not explain the result"
    elif rate < raw:
        words += (f"the raw {raw:.0%} owes part of A's {'lead' if raw > 0.5 else 'wins'} to A's {trait} answers (the "
                  f"judge leans toward the {trait} answer)")
    else:
        words += (f"the raw {raw:.0%} owes part of B's {'lead' if raw < 0.5 else 'wins'} to B's {trait} answers (the "
                  f"judge leans toward the {trait} answer)")
    longer = "A" if lc.get("a_longer") == n else "B" if lc.get("b_longer") == n else None
    if longer and lc.get("interval") == BOOTSTRAP:
        words += (f"; {longer}'s answer was the longer in every pair, so equal length lies outside the data and the "
                  "figure leans on the model")
    raw_clear = raw_rate.get("low") is not None and (raw_rate["low"] > 0.5 or raw_rate["high"] < 0.5)
    if raw_clear and lc["low"] <= 0.5 <= lc["high"]:
        words += "; with length held equal the interval includes 50%: no clear winner once length is accounted for"
    return words


def band_words(band: float | None, scored: bool = True) -> str:
    """The band of no difference in words (a verdict-only judge has no totals to be close)."""
    if not band:
        return "no tie band (any lead wins)"
    within = f"tie band {band:g}: P(A better) within {0.5 - band:.0%}-{0.5 + band:.0%}"
    return f"{within}, or parsed totals less than {SCALE_STEP:g} point apart" if scored else within


def too_close_words(summary: dict, band: float | None, scored: bool = True) -> str:
    """How many ties were a favourite inside the band ('' when none were)."""
    close, ties = summary.get("too_close") or 0, (summary.get("wins") or {}).get("tie", 0)
    if not close:
        return ""
    return (f"{close} of the {ties} ties were too close to call ({band_words(band, scored)}): the judge leaned one "
            "way, inside the band, so they count as ties (half a win each)")


def cut_off_words(summary: dict) -> str:
    """How many answers stopped at the token limit, unfinished ('' when none did)."""
    cut = summary.get("cut_off") or {}
    if not any(cut.values()):
        return ""
    caps = summary.get("max_new_tokens") or []
    limit = " / ".join(str(c) for c in caps) or "the"
    n = summary.get("n", 0)
    return (f"{cut.get('A', 0)} of A's and {cut.get('B', 0)} of B's {n} answers were cut off at {limit} tokens "
            "(max new tokens): they may be unfinished, and their completeness was graded on cut-off text")


def closing_lines(summary: dict, max_total: float | None, band: float | None, scored: bool = True) -> list[str]:
    """The CLI's closing summary: outcomes, mean totals (a verdict-only judge's `scored` False: that it gives none),
    the notes above, the win rate at equal length, and the closing sentence."""
    wins, mean = summary.get("wins") or {}, summary.get("mean_total") or {}
    show = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    totals = (f"mean total{f' (of {max_total:g})' if max_total else ''}: A {show(mean.get('A'))}, "
              f"B {show(mean.get('B'))}") if scored else NO_SCORES
    lines = [f"summary: {summary.get('n', 0)} records: A won {wins.get('A', 0)}, B won {wins.get('B', 0)}, "
             f"{wins.get('tie', 0)} ties, {wins.get('unknown', 0)} without a verdict; {totals}"]
    lines += [f"note: {words}" for words in (too_close_words(summary, band, scored), cut_off_words(summary)) if words]
    if length := length_controlled_words(summary):
        lines.append(f"length-controlled win rate of A: {length}")
    lines.append(f"conclusion: {conclusion_sentence(summary, max_total, scored)}")
    return lines


def closing_markdown(folder) -> str:
    """The notes, the win rate at equal length and the closing sentence of a finished run folder, as Markdown for a
    page (the Batch tab's finished status)."""
    run = load_run(folder)
    summary = with_new_fields(run.summary, run.records)
    band, scored = (run.manifest.get("config") or {}).get("tie_band"), run.rubric.scored
    notes = [f"**{name}:** {words}" for name, words in (("Too close to call", too_close_words(summary, band, scored)),
                                                         ("Cut off", cut_off_words(summary)),
                                                         ("Length-controlled win rate of A",
                                                          length_controlled_words(summary))) if words]
    scores = [] if scored else ["**Scores:** none: the judge names the better answer"]
    return "  \n".join([*scores, *notes,
                         f"**Conclusion:** {conclusion_sentence(summary, run.rubric.max_total, scored)}"])
