"""The judge's part of a record: one judge's verdict fields, or a panel's (judge/panel.py) with each member's kept.

A panel member whose served judge failed a request leaves the panel for that item (its error kept); a lone judge's
failure fails the record (runs/pipeline.py writes it as `failed`, and --resume retries it). Every verdict then goes
through the band of no difference (analysis/margins.py): a favourite inside it is a tie, "too close to call".
"""
from __future__ import annotations

from analysis.margins import verdict_margin
from judge.judging import OK, UNPARSED, judge_pair, judge_single, single_winner
from judge.panel import PanelMember, combine_panel
from judge.templates import JudgeTemplate
from models.endpoints import EndpointError
from runs.config import CompareConfig, resolve_method
from runs.prompt_sets import PromptItem
from runs.records import FAILED


def verdict_fields(config: CompareConfig, template: JudgeTemplate, judges: list, item: PromptItem, answer_a: str,
                   answer_b: str) -> dict:
    """The verdict fields of a record (judgement, status, method, scores, totals, winner, consistent, reasons, and
    `panel` for several judges)."""
    if len(judges) == 1:
        return one_judge(config, template, judges[0], item, answer_a, answer_b)
    members, fields = [], []
    for judge in judges:
        try:
            found = one_judge(config, template, judge, item, answer_a, answer_b)
        except EndpointError as exc:
            found = dict(status=FAILED, winner=None, scores={"A": None, "B": None}, totals={"A": None, "B": None},
                         method=resolve_method(config.judge_method, judge), error=str(exc), judgement={},
                         reasons={}, consistent=None)
        fields.append(found)
        members.append(PanelMember(judge.spec.text, found["status"], found["winner"], found["scores"],
                                   found["totals"], found["method"], found.get("error")))
    panel = combine_panel(members, config.mode)
    # A panel of judges that each give P(A better) is as close as their mean; otherwise its mean totals' gap counts.
    shares = [(f.get("margin") or {}).get("p_a_better") for f in fields
              if f["status"] == OK and f.get("winner") is not None]
    shared_p = sum(shares) / len(shares) if shares and None not in shares else None
    reasons = {side: "\n".join(f"[{m.judge}] {f['reasons'].get(side)}" for m, f in zip(members, fields)
                               if f["reasons"].get(side)) for side in ("A", "B")}
    methods = sorted({m.method for m in members})
    found = dict(status=panel.status, winner=panel.winner, scores=panel.scores, totals=panel.totals,
                 method=methods[0] if len(methods) == 1 else "+".join(methods), consistent=None, reasons=reasons,
                 judgement={"panel": [{"judge": m.judge, **{k: f[k] for k in ("judgement", "consistent", "reasons")}}
                                      for m, f in zip(members, fields)]},
                 panel={"size": panel.size, "used": panel.used, "votes": panel.votes,
                        "members": [m.__dict__ for m in members]})
    if config.mode == "pairwise":  # a majority of the members' verdicts, each already through the band
        return found
    return with_band({**found, "mode": config.mode}, template, config.tie_band, shared_p)


def with_band(fields: dict, template: JudgeTemplate, band: float, p_a_better: float | None = None) -> dict:
    """`fields` with their `margin`, and a favourite inside the band of no difference turned into a tie."""
    margin = verdict_margin(fields, template.criteria, template.scale, band, p_a_better)
    fields = {k: v for k, v in fields.items() if k != "mode"}
    if margin is None:
        return fields
    fields["margin"] = margin.to_dict()
    if margin.too_close:
        fields["winner"] = "tie"
    return fields


def one_judge(config: CompareConfig, template: JudgeTemplate, judge, item: PromptItem, answer_a: str,
              answer_b: str) -> dict:
    """One judge's verdict fields: judgement, status, scores, totals, winner, consistent, reasons, method."""
    method = resolve_method(config.judge_method, judge)
    options = dict(constrain=config.constrain_judge, method=method, reasons=config.judge_reasons, rubric=item.rubric)
    if config.mode == "single":
        ja, jb = (judge_single(judge, template, item.prompt, answer, config.judge_sampling, item.reference, **options)
                  for answer in (answer_a, answer_b))
        found = dict(judgement={"A": ja.to_dict(), "B": jb.to_dict()}, method=method,
                     status=OK if ja.status == jb.status == OK else UNPARSED,
                     scores={"A": ja.scores, "B": jb.scores}, totals={"A": ja.total, "B": jb.total},
                     winner=single_winner(ja, jb), consistent=None, reasons={"A": ja.reasons, "B": jb.reasons})
        return with_band({**found, "mode": config.mode}, template, config.tie_band)
    verdict = judge_pair(judge, template, item.prompt, answer_a, answer_b, config.judge_sampling, item.reference,
                         swap=config.swap, **options)
    found = dict(judgement=verdict.to_dict(), status=verdict.status, method=method,
                 scores={"A": verdict.scores_a, "B": verdict.scores_b},
                 totals={"A": _total(verdict.scores_a), "B": _total(verdict.scores_b)},
                 winner=verdict.winner, consistent=verdict.consistent,
                 reasons={"A": verdict.reasons, "B": verdict.reasons})
    return with_band({**found, "mode": config.mode}, template, config.tie_band)


def judge_usage(judgement: dict) -> dict:
    """{"input", "output"} tokens of every judge call in a record's judgement (where the backends reported them)."""
    totals = {"input": 0, "output": 0}

    def walk(value):
        if isinstance(value, dict):
            if "call" in value and isinstance(value["call"], dict):
                totals["input"] += value["call"].get("input_tokens") or 0
                totals["output"] += value["call"].get("output_tokens") or 0
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(judgement)
    return totals


def _total(scores: dict | None) -> float | None:
    # {}: a verdict-only judge scored no criteria, so there is no total (never a total of 0).
    return round(sum(scores.values()), 2) if scores else None
