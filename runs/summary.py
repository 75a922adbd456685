"""A run's summary: the one place it is computed, for summary.json, the runs list and the dashboard."""
from __future__ import annotations

from collections.abc import Sequence

from analysis.difference import paired_difference
from analysis.length_control import length_controlled
from analysis.panel_agreement import panel_agreement
from analysis.stats import count_outcomes, mean_totals, rubric_of, summarize_run
from runs.records import FAILED, SIDES, UNPARSED, cut_off_at, too_close

REFERENCE_METRICS = ("rouge_l", "bleu", "perplexity")


def summarize(records: Sequence[dict]) -> dict:
    """Counts, mean totals, the rubric and the statistics of analysis/stats.py, for the run and per preset."""
    presets = list(dict.fromkeys(r.get("preset") or "custom" for r in records))
    summary = {**run_counts(records), "rubric": rubric_of(records).to_dict(), "stats": run_stats(records)}
    agreement = panel_agreement(records)
    if agreement is not None:
        summary["panel_agreement"] = agreement
    if len(presets) > 1:
        summary["by_preset"] = {}
        for preset in presets:
            subset = [r for r in records if (r.get("preset") or "custom") == preset]
            summary["by_preset"][preset] = {**run_counts(subset), "stats": run_stats(subset)}
    return summary


def with_new_fields(summary: dict, records: Sequence[dict]) -> dict:
    """A summary with what summaries written before the band, finish reasons, the paired difference and the
    length-controlled win rate lack computed from its records (a summary that has them is returned as it is)."""
    summary = dict(summary)
    if "too_close" not in summary or "cut_off" not in summary:
        counts = run_counts(records)
        for key in ("too_close", "cut_off", "max_new_tokens"):
            summary.setdefault(key, counts[key])
    stats, missing = summary.get("stats") or {}, {}
    if records and "difference" not in stats:
        missing["difference"] = paired_difference(records).to_dict()
    if records and "length_controlled" not in stats:
        missing["length_controlled"] = length_controlled(records).to_dict()
    if missing:
        summary["stats"] = {**stats, **missing}
    return summary


def run_stats(records: Sequence[dict]) -> dict:
    """analysis/stats.py's statistics, the paired difference in total (A - B) with the prompts it would need, and
    A's win rate at equal answer length (analysis/length_control.py)."""
    if not records:
        return {}
    return {**summarize_run(records), "difference": paired_difference(records).to_dict(),
            "length_controlled": length_controlled(records).to_dict()}


def run_counts(records: Sequence[dict]) -> dict:
    """The cheap part of the summary (no bootstrap): counts, outcomes, mean totals, judge-free measures."""
    return {
        "n": len(records),
        "wins": count_outcomes(records),
        "unparsed": sum(r["status"] == UNPARSED for r in records),
        "failed": sum(r["status"] == FAILED for r in records),
        "inconsistent": sum(r.get("consistent") is False for r in records),
        "too_close": sum(too_close(r) for r in records),  # ties that were a favourite inside the band
        "cut_off": {side: sum(cut_off_at(r, side) is not None for r in records) for side in SIDES},
        "max_new_tokens": sorted({cut_off_at(r, s) for r in records for s in SIDES} - {None}),  # the caps hit
        "mean_total": mean_totals(records),
        "judge_free": judge_free_summary(records),
    }


def judge_free_summary(records: Sequence[dict]) -> dict:
    """Per model: checks passed of run, and the mean of each reference metric over prompts that have one."""
    summary: dict = {}
    for side in SIDES:
        checks = [r["checks_summary"][side] for r in records if r.get("checks_summary")]
        metrics = [r["reference_metrics"][side] for r in records if r.get("reference_metrics")]
        means = {}
        for name in REFERENCE_METRICS:
            values = [m[name] for m in metrics if m and m.get(name) is not None]
            means[name] = round(sum(values) / len(values), 4) if values else None
        summary[side] = {
            "checks_passed": sum(c["passed"] for c in checks), "checks_total": sum(c["total"] for c in checks),
            "prompts_all_checks_passed": sum(c["passed"] == c["total"] for c in checks),
            "prompts_with_checks": len(checks), "reference_means": means, "prompts_with_reference": len(metrics),
        }
    return summary
