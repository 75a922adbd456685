"""A checkpoint sweep's summary (evals/sweep_report.py's summary.json) as the page shows it: one row per checkpoint,
the sentence naming the best and whether its lead is real, and what the numbers mean in words."""
from __future__ import annotations

from evals.sweep_report import means_text, rate_text, strength_text
from runs.views import as_text

SWEEP_HEADERS = ["Checkpoint", "Step", "Win rate against the baseline (95%)", "Mean scores", "Strength (95%)", "Rank"]
READING = ("How to read it: the win rate counts each prompt the checkpoint won against the baseline (ties half); an "
           "interval that includes 50% means these prompts cannot tell it from the baseline. The strength is a "
           "Bradley-Terry rating from every pairing, 1.00 for an average model; a rank is only as sure as its "
           "interval is narrow. More prompts narrow every interval.")


def sweep_rows(summary: dict) -> list[list[str]]:
    return [[row["label"], "" if row["step"] is None else str(row["step"]),
             "the baseline" if row["is_baseline"] else rate_text(row["win_rate"]), means_text(row) or "no scores",
             strength_text(row) or "not rated", "" if row["rank"] is None else str(row["rank"])]
            for row in summary["checkpoints"]]


def sweep_markdown(summary: dict, folder: str | None = None) -> str:
    """The sentence first (what a person came for), the table, then how to read it and where it was saved."""
    table = ["| " + " | ".join(SWEEP_HEADERS) + " |", "|" + "---|" * len(SWEEP_HEADERS)]
    table += ["| " + " | ".join(as_text(cell) for cell in row) + " |" for row in sweep_rows(summary)]
    answers = summary.get("answers") or {}
    reuse = (f"Answers: {answers.get('generated', 0)} generated, {answers.get('reused', 0)} reused from earlier "
             "sweeps and pairings.")
    parts = [f"**{as_text(summary['sentence'])}**", f"Baseline: {as_text(summary['baseline'])}", "\n".join(table),
             READING, reuse]
    if folder:
        parts.append(f"Saved in {as_text(folder)} (each pairing is also a run in the Results tab).")
    return "\n\n".join(parts)
