"""Plain-text views of one comparison record (score table, verdict, reasons, CLI and Batch lines) for the app and
the CLI. Criteria, scale and total come from the record's rubric, never assumed."""
from __future__ import annotations

import html
import re

from basics import UserFacingError
from judge.echo import echoed_reasons
from judge.rewards import PREFERENCE, mapping_formula, panel_rewards, recorded_rewards
from judge.rubric import Rubric
from runs.records import cut_off_at

SCORE_HEADERS = ["Criterion", "A", "B"]
NO_SCORES = "no scores: the judge names the better answer"  # a verdict-only rubric (Prometheus 2's relative grading)


def format_score(value) -> str:
    """A score or total as shown: 'unparsed' where the judge's reply could not be read."""
    if value is None:
        return "unparsed"
    if isinstance(value, float):  # expected scores (probabilities method) are shown to two decimals
        return f"{round(value, 2):g}"
    return f"{value:g}" if isinstance(value, int) else str(value)


def record_rubric(record: dict) -> Rubric:
    return Rubric.from_dict(record["rubric"])


def total_cell(record: dict, side: str) -> str:
    """A side's total as a table cell: '–' where the judge gives no scores (a verdict only), never 'unparsed'."""
    return format_score(record["totals"][side]) if record_rubric(record).scored else "–"


def score_rows(record: dict) -> list[list]:
    """Rows 'criterion, A, B' for each criterion of the record's rubric, plus the total out of its maximum."""
    rubric = record_rubric(record)
    if not rubric.scored:
        return [[f"({NO_SCORES})", "–", "–"]]
    scores = record["scores"]
    rows = [[_criterion_name(rubric, c), *(format_score(scores[side].get(c) if scores[side] else None)
                                           for side in ("A", "B"))] for c in rubric.criteria]
    rows.append([f"Total (of {rubric.max_total})", format_score(record["totals"]["A"]),
                 format_score(record["totals"]["B"])])
    rewards = panel_rewards(record.get("judgement")) if rubric.mapping else None
    if rewards:  # the number the reward model gave, beside the score it was mapped to
        rows.append(["Reward r (raw, the model's own scale)", *(f"{r:.4g}" for r in rewards)])
    return rows


def _criterion_name(rubric: Rubric, criterion: str) -> str:
    """A score row's name; a reward model's `preference` says how its raw reward was mapped onto the scale."""
    if criterion == PREFERENCE and rubric.mapping:
        return mapping_formula(rubric.scale).capitalize()
    return criterion.capitalize()


def scores_label(rubric: Rubric, mode: str = "single") -> str:
    """The score table's caption for a rubric; a pairwise table says why it can hold halves."""
    if not rubric.scored:
        return f"Scores: none ({NO_SCORES})"
    label = f"Scores ({rubric.low}-{rubric.high} per criterion, total of {rubric.max_total})"
    if rubric.mapping:
        label += f" · {mapping_formula(rubric.scale)}, r a reward model's raw reward"
    return label + (" · pairwise: each score is the mean of both answer orders" if mode == "pairwise" else "")


def margin_words(record: dict) -> str:
    """How close the verdict was, in words: P(A better) against the band, or the totals' gap against one scale step
    ('' for a record without a margin: a written pairwise verdict, or one from before the band)."""
    margin = record.get("margin")
    if not margin:
        return ""
    ahead = margin.get("ahead")
    if margin["basis"] == "probability":
        p, band = margin["p_a_better"], margin["band"]
        side, share = ("B", 1 - p) if ahead == "B" or (ahead is None and p < 0.5) else ("A", p)
        where = "inside" if abs(p - 0.5) < band else "outside"
        band_text = f", {where} the band of no difference ({0.5 - band:.0%}-{0.5 + band:.0%})" if band else ""
        other = "B" if side == "A" else "A"
        how = f" = sigmoid(r_{side} − r_{other})" if recorded_rewards(record.get("judgement")) else ""
        return f"P({side} better){how} {share:.1%}{band_text}"
    gap = margin["gap"]
    if not gap:
        return "equal totals"
    side = "A" if gap > 0 else "B"
    size = "less than" if abs(gap) < margin["band"] else "at least"
    return f"{side}'s total is {abs(gap):.2f} higher, {size} one point, the smallest step of the judge's scale"


def verdict_line(record: dict) -> str:
    winner = record["winner"]
    if winner is None:
        return "No verdict: the judge's reply could not be parsed (raw replies are saved with the run)."
    if (record.get("margin") or {}).get("too_close"):
        return (f"Too close to call (counted as a tie): the judge leaned to {record['margin']['ahead']}, but "
                f"{margin_words(record)}")
    text = "Tie" if winner == "tie" else f"Winner: {winner}"
    probabilities = record["judgement"].get("probabilities") if record["mode"] == "pairwise" else None
    if probabilities:
        shown = ", ".join(f"P({k}) {v:.2f}" for k, v in probabilities.items())
        return f"{text} ({shown}: the judge's probabilities, averaged over both answer orders)"
    close = f"; {margin_words(record)}" if (record.get("margin") or {}).get("basis") == "probability" else ""
    if record["method"] == "probabilities":
        return f"{text} (by the expected totals read from the judge's probabilities{close})"
    if close and winner != "tie":
        text += f" ({close[2:]})"
    if record["consistent"] is False:
        text += " (inconsistent: the verdict flipped when the answers were swapped, so it counts as a tie)"
    elif record["consistent"] is True:
        text += " (consistent in both orders)"
    return text


NO_REASONS = "(no reasons: the probabilities method reads the scores; ask for reasons to get them)"
HEAD_REASONS = ("(no reasons: {judge} is a scoring judge; it scores each answer alone and writes nothing. For "
                "written reasons, pick a writing judge such as smollm2-135m-gguf)")


_MARKDOWN_SIGNS = re.compile(r"([\\`*_\[\]!#|~])")


def as_text(text: object) -> str:
    """Text that came from a model, a prompt set or a visitor, made safe to put in Markdown: HTML is escaped and
    Markdown's signs are backslashed, so `<img src=x>` or `![](http://...)` show as the characters they are and
    never make a viewer's browser load anything (as the HTML report escapes them)."""
    return _MARKDOWN_SIGNS.sub(r"\\\1", html.escape(str(text), quote=False))


def loading_text(specs: list[str]) -> str:
    """What is loading, by name, and what may take a while: the one-time conversion of an embedded model that has
    not been converted yet, or a hub id (read from the Hugging Face cache, or downloaded)."""
    from models.embedded import EMBEDDED_MODELS, converted_folder, f32_gguf_path
    from models.spec import parse_model_spec

    names = list(dict.fromkeys(specs))
    slow = []
    for name in names:
        try:
            spec = parse_model_spec(name)
        except UserFacingError:
            continue
        alias = spec.embedded_alias
        if spec.backend == "transformers" and alias and \
                not (converted_folder(EMBEDDED_MODELS[alias]) / "model.safetensors").is_file():
            slow.append(f"{alias} is converted once, ~20 s")
        elif spec.float32_gguf and not f32_gguf_path(EMBEDDED_MODELS[alias]).is_file():
            slow.append(f"{spec.base} is written once, a few seconds")
        elif spec.base_kind == "hub":
            slow.append(f"{spec.base} comes from the Hugging Face cache or is downloaded")
    note = f" ({'; '.join(slow)})" if slow else ""
    return f"Loading {as_text(', '.join(names))}{note}…"


def reasons_markdown(record: dict, template: str = "") -> str:
    """The judge's reasons per side (single) or per answer order (pairwise). Reasons that only repeat the answer or
    the judge's prompt (judge/echo.py; `template`: the template it was judged with, when known) are shown as none,
    the reply itself behind a disclosure."""
    judgement = record["judgement"]
    parts = judgement.get("orders") or [judgement.get(side, {}) for side in ("A", "B")]
    if record.get("method") == "head" and all(part.get("status") == "ok" for part in parts):
        return HEAD_REASONS.format(judge=record.get("judge", "the judge"))

    def written(part: dict, missing: str) -> str:
        return _reasons_text(record, part, template) if part.get("reasons") else missing

    if record["mode"] == "single":
        parts = []
        for side in ("A", "B"):
            j = judgement.get(side, {})
            if j.get("status") == "ok":
                missing = NO_REASONS if record["method"] == "probabilities" else "(no reasons given)"
                parts.append(f"**{side}:** {written(j, missing)}")
            else:
                parts.append(f"**{side}:** unparsed: {as_text(j.get('call', {}).get('error'))}")
        return "\n\n".join(parts)
    lines = []
    for order in judgement.get("orders", []):
        label = "A shown first" if order["order"] == "AB" else "B shown first"
        if order["status"] == "ok":
            missing = NO_REASONS if record["method"] == "probabilities" else ""
            lines.append(f"**{label}:** verdict {order['verdict']}. {written(order, missing)}")
        else:
            lines.append(f"**{label}:** unparsed: {as_text(order['call']['error'])}")
    return "\n\n".join(lines)


NO_WRITTEN_REASONS = "(the judge wrote no reasons)"
ECHOED_REPLY = "Its reply, which repeats the answer or its prompt"  # the disclosure holding an echoing reply


def _reasons_text(record: dict, part: dict, template: str) -> str:
    """One part's reasons as text, or NO_WRITTEN_REASONS and the judge's reply in a closed disclosure."""
    reasons = part["reasons"]
    answers = [((record.get("answers") or {}).get(side) or {}).get("text") or "" for side in ("A", "B")]
    if not echoed_reasons(reasons, answers, record.get("prompt", ""), template):
        return as_text(reasons)
    # The probabilities method asks for reasons in a reply of their own; the parsed method's are part of its reply.
    raw = reasons if record.get("method") == "probabilities" else \
        ((part.get("call") or {}).get("raw_replies") or [reasons])[-1]
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", raw)), default=0))
    # In a code block the reply shows as its own characters: nothing in it becomes Markdown or HTML.
    return (f"{NO_WRITTEN_REASONS}\n\n<details><summary>{ECHOED_REPLY}</summary>"
            f"\n\n{fence}text\n{raw}\n{fence}\n\n</details>")


def timings_line(record: dict) -> str:
    t = record["timings"]
    a, b = record["answers"]["A"], record["answers"]["B"]
    cut = {side: f", **cut off at {limit} tokens**" if (limit := cut_off_at(record, side)) else "" for side in "AB"}
    return (f"answer A {t['answer_a']:.1f} s ({a['n_tokens']} tokens{cut['A']}, {a['tokens_per_second']:.1f} tok/s) · "
            f"answer B {t['answer_b']:.1f} s ({b['n_tokens']} tokens{cut['B']}, {b['tokens_per_second']:.1f} tok/s) · "
            f"judge {t['judge']:.1f} s · total {t['total']:.1f} s")


def cut_off_note(record: dict, side: str) -> str:
    """'cut off at 192 tokens' for an answer that stopped at the token limit, unfinished; '' otherwise."""
    limit = cut_off_at(record, side)
    return f"cut off at {limit} tokens" if limit else ""


def answer_label(record: dict | None, side: str) -> str:
    """An answer box's label: 'Answer A', and why it may be unfinished when it was cut off."""
    note = cut_off_note(record, side) if record else ""
    return f"Answer {side} · {note} (max new tokens): it may be unfinished" if note else f"Answer {side}"


def answer_warnings(record: dict) -> set[str]:
    """Settings a backend could not apply to this record's answers, e.g. a server that refuses min_p."""
    return {f"model {side}: {w}" for side in ("A", "B") for w in (record["answers"][side].get("warnings") or [])}


def notices_line(record: dict) -> str:
    """What was changed about this record's inputs before it ran (a prompt cut to fit a context window), as a line
    for the page; empty when nothing was."""
    notes = record.get("warnings") or []
    return f"**Notice:** {as_text('; '.join(notes))}" if notes else ""


def served_by_line(models: dict, record: dict) -> str:
    """Which backend served each answer and the verdict (a served model's URL too), and every setting a backend
    could not apply, from a run's manifest models and one record."""
    def where(described: dict) -> str:
        url = f" {described.get('model')} at {described['base_url']}" if described.get("base_url") else ""
        return f"{described.get('backend', '?')}{url}"

    parts = [f"A: {where(models.get('model_a') or {})}", f"B: {where(models.get('model_b') or {})}"]
    panel = models.get("panel")
    parts.append(f"judges: {', '.join(where(d) for d in panel)}" if panel else
                 f"judge: {where(models.get('judge') or {})}")
    warnings = [f"{side}: {w}" for side in ("A", "B") for w in (record["answers"][side].get("warnings") or [])]
    return "Served by " + " · ".join(parts) + (f"  \n**Not applied:** {'; '.join(warnings)}" if warnings else "")


def record_line(index: int, total: int, record: dict) -> str:
    """One line per finished prompt for the CLI."""
    if record["status"] == "failed":
        return f"[{index + 1}/{total}] {record['id']}: failed: {record.get('error')}"
    top = record_rubric(record).max_total
    show = {s: ("unparsed" if v is None else f"{v:g}/{top}") for s, v in record["totals"].items()}
    if not record_rubric(record).scored:
        show = {s: "–" for s in show}
    rewards = panel_rewards(record.get("judgement")) if record_rubric(record).mapping else None
    if rewards:  # the score is the reward mapped onto the scale: the reward itself beside it
        show = {s: f"{show[s]} (r {r:.3g})" for s, r in zip(("A", "B"), rewards)}
    flag = " (inconsistent)" if record["consistent"] is False else ""
    winner = record["winner"] or "unknown"
    if (record.get("margin") or {}).get("too_close"):
        flag += f" (too close to call: {margin_words(record)})"
    cut = [f"{side} {note}" for side in ("A", "B") if (note := cut_off_note(record, side))]
    flag += f" ({'; '.join(cut)})" if cut else ""
    return f"[{index + 1}/{total}] {record['id']}: A {show['A']}  B {show['B']}  winner {winner}{flag}"


BATCH_HEADERS = ["Prompt id", "Preset", "Total A", "Total B", "Winner"]


def batch_row(record: dict) -> list:
    """One row of the Batch tab's live table: id, preset, totals out of the rubric's maximum, winner."""
    top = record_rubric(record).max_total
    totals = [format_score(t) if t is None else f"{format_score(t)}/{top}" for t in
              (record["totals"]["A"], record["totals"]["B"])]
    if not record_rubric(record).scored:
        totals = ["–", "–"]
    winner = "failed (resume retries it)" if record["status"] == "failed" else record["winner"] or "unknown"
    if (record.get("margin") or {}).get("too_close"):
        winner = "tie (too close to call)"
    return [record["id"], record["preset"] or "custom", *totals, winner]


FEW_RECORDS = 5  # with fewer decided records a bootstrap interval is a certain-looking artefact: say so instead


def plural(n: int, word: str) -> str:
    """'1 record', '3 records'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def win_rate_text(rate: dict, decided: int) -> str:
    """'62% (95% interval 41%-80%)', or on a tiny sample '100% (too few records for an interval: 1)'."""
    if rate.get("rate") is None:
        return "n/a"
    if decided < FEW_RECORDS or rate.get("low") is None:
        return f"{rate['rate']:.0%} (too few records for an interval: {decided})"
    return f"{rate['rate']:.0%} (95% interval {rate['low']:.0%}-{rate['high']:.0%})"


def summary_table_markdown(summary: dict) -> str:
    """A run's summary.json as a table: the whole run, then each preset."""
    parts = {"all records": summary, **summary.get("by_preset", {})}
    lines = ["| | records | A wins | B wins | ties | unknown | mean total A | mean total B | A's win rate (95% CI) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, part in parts.items():
        wins, means = part["wins"], part["mean_total"]
        rate = (part.get("stats") or {}).get("win_rate") or {}
        rate_text = win_rate_text(rate, wins["A"] + wins["B"] + wins["tie"])
        mean = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {name} | {part['n']} | {wins['A']} | {wins['B']} | {wins['tie']} | {wins['unknown']} | "
                     f"{mean(means['A'])} | {mean(means['B'])} | {rate_text} |")
    return "\n".join(lines) + "\n\nWin rate counts a tie as half a win; 'unknown' = the judge's reply was unparsed."
