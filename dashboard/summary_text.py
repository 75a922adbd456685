"""A run's headline numbers in words, for the dashboard and the HTML report."""
from __future__ import annotations

from analysis.agreement import judge_agreement
from lab.trust import trust_line
from runs.conclusion import band_words, conclusion_sentence, cut_off_words, length_controlled_words, too_close_words
from runs.store import Run
from runs.summary import with_new_fields
from runs.views import plural, win_rate_text
from runs.votes import read_votes


def _num(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def summary_markdown(run: Run) -> str:
    """The run's headline numbers in words, for the dashboard and the HTML report."""
    s = with_new_fields(run.summary, run.records)
    stats = s.get("stats") or {}
    band = (run.manifest.get("config") or {}).get("tie_band")
    models = run.models
    rubric = run.rubric
    wr = stats.get("win_rate") or {}
    pos = stats.get("position") or {}
    wins = s.get("wins") or {}
    mean = s.get("mean_total") or {}
    lines = [f"**A** = `{models['A']}` · **B** = `{models['B']}` · judge `{models['judge']}` · "
             f"mode {run.manifest.get('config', {}).get('mode', '?')} · {plural(s.get('n', 0), 'record')}"
             + ("" if run.finished else " · **unfinished run** (summary computed from the records saved so far)")]
    if wr.get("rate") is not None:
        decided = wins.get("A", 0) + wins.get("B", 0) + wins.get("tie", 0)
        lines.append(f"- **Win rate of A:** {win_rate_text(wr, decided)}; "
                     f"ties count ½ — A won {wins.get('A', 0)}, B won {wins.get('B', 0)}, "
                     f"{wins.get('tie', 0)} ties, {wins.get('unknown', 0)} without a verdict")
    else:
        lines.append("- **Win rate of A:** no decided records")
    if length := length_controlled_words(s):
        lines.append(f"- **Length-controlled win rate of A:** {length}")
    if rubric.scored:
        lines.append(f"- **Mean total (of {rubric.max_total}):** A {_num(mean.get('A'))} · B {_num(mean.get('B'))} "
                     f"· rubric: {rubric.describe()}")
    else:  # a verdict-only judge: no totals to average, never a total 'of 0'
        lines.append(f"- **Scores:** {rubric.describe()}, so the win rate above is the result")
    close = too_close_words(s, band, rubric.scored)
    lines.append(f"- **Too close to call:** {close}" if close else f"- **Ties:** {band_words(band, rubric.scored)}")
    if cut := cut_off_words(s):
        lines.append(f"- **Cut off:** {cut}")
    if pos.get("consistency_rate") is not None:
        lines.append(f"- **Position consistency:** {pos['consistency_rate']:.0%} of {pos['n']} pairwise records kept "
                     f"their verdict when the answers were swapped")
    else:
        lines.append("- **Position consistency:** n/a (needs pairwise mode with swapping)")
    lines.append(f"- **Unparsed:** {s.get('unparsed', 0)} of {s.get('n', 0)} records had a judge reply that "
                 "could not be read")
    if run.records:
        lines.append("- " + trust_line(run.records[0]))
    votes = read_votes(run.folder)
    if votes:
        agreement = judge_agreement(run.records, votes)
        kappa = "n/a" if agreement.kappa is None else f"{agreement.kappa:.2f}"
        rate = "n/a" if agreement.agreement is None else f"{agreement.agreement:.0%}"
        lines.append(f"- **Judge vs people:** agrees on {rate} of {agreement.n_usable} voted records "
                     f"(Cohen's kappa {kappa}; {agreement.n_votes} votes in all)")
    lines.append(f"**Conclusion:** {conclusion_sentence(s, rubric.max_total, rubric.scored)}")
    return "\n".join(lines)


