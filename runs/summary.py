"""A run's summary: the one place it is computed, for summary.json, the runs list and the dashboard."""
from __future__ import annotations

from collections.abc import Sequence

from analysis.panel_agreement import panel_agreement
from analysis.stats import count_outcomes, mean_totals, rubric_of, summarize_run
from runs.records import FAILED, SIDES, UNPARSED

REFERENCE_METRICS = ("rouge_l", "bleu", "perplexity")


def summarize(records: Sequence[dict]) -> dict:
    """Counts, mean totals, the rubric and the statistics of analysis/stats.py, for the run and per preset."""
    presets = list(dict.fromkeys(r.get("preset") or "custom" for r in records))
    summary = {**run_counts(records), "rubric": rubric_of(records).to_dict(),
               "stats": summarize_run(records) if records else {}}
    agreement = panel_agreement(records)
    if agreement is not None:
        summary["panel_agreement"] = agreement
    if len(presets) > 1:
        summary["by_preset"] = {}
        for preset in presets:
            subset = [r for r in records if (r.get("preset") or "custom") == preset]
            summary["by_preset"][preset] = {**run_counts(subset), "stats": summarize_run(subset)}
    return summary


def run_counts(records: Sequence[dict]) -> dict:
    """The cheap part of the summary (no bootstrap): counts, outcomes, mean totals, judge-free measures."""
    return {
        "n": len(records),
        "wins": count_outcomes(records),
        "unparsed": sum(r["status"] == UNPARSED for r in records),
        "failed": sum(r["status"] == FAILED for r in records),
        "inconsistent": sum(r.get("consistent") is False for r in records),
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
