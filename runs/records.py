"""Typed run records: one CompareRecord per (prompt, preset), with a format version, read back from every version.

Version 1 (records written before versions existed) had no `schema_version` and no `rubric`; its rubric is taken
from the run's template when known, else from the criteria its scores name, on the default 1-4 scale. Readers get
every field present, so no reader needs `.get(...) or {}`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from judge.rubric import DEFAULT_SCALE, Rubric

SCHEMA_VERSION = 2
SIDES = ("A", "B")
OK, UNPARSED, FAILED = "ok", "unparsed", "failed"
# Judge-free measures are written only when a prompt has checks or a reference (absent keys, not nulls).
OPTIONAL_KEYS = ("checks", "checks_summary", "reference_metrics", "error", "panel", "warnings", "margin")


@dataclass
class CompareRecord:
    """Both answers to one prompt at one sampling setting, and the judge's verdict on them."""

    id: str
    prompt: str
    model_a: str
    model_b: str
    judge: str
    mode: str  # "single" | "pairwise"
    answers: dict  # side -> Generation.to_dict(): text, n_tokens, seconds, first_token_seconds, tokens_per_second
    status: str  # OK when every judge reply parsed, else UNPARSED; FAILED when a model or the judge failed on it
    scores: dict  # side -> {criterion: score}, or None for a side whose judge reply was unparsed
    totals: dict  # side -> sum of its scores, or None
    winner: str | None  # "A" | "B" | "tie"; None = no verdict (unparsed), never a silent tie
    rubric: dict  # Rubric.to_dict(): the criteria and scale the judge scored on
    method: str = "parsed"  # how the judge's scores were made: "parsed" (a reply) or "probabilities" (read)
    consistent: bool | None = None  # pairwise with swap: both orders agreed
    reasons: dict = field(default_factory=dict)  # side -> the judge's reasons
    judgement: dict = field(default_factory=dict)  # the judge calls in full: raw replies, orders, errors
    category: str = ""
    reference: str = ""
    preset: str | None = None  # the sampling preset's name; None = custom settings
    sampling: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # seconds: answer_a, answer_b, judge, total
    checks: dict | None = None  # side -> [CheckResult.to_dict()]
    checks_summary: dict | None = None  # side -> {passed, total}
    reference_metrics: dict | None = None  # side -> {rouge_l, bleu, perplexity}
    error: str | None = None  # status "failed": what failed (a request, a generation, the judge), retried by a resume
    panel: dict | None = None  # several judges: size, used, votes, and each member's verdict (judge/panel.py)
    usage: dict = field(default_factory=dict)  # tokens: A / B / judge -> {input, output} (input None: not reported)
    warnings: list | None = None  # what was done to the prompt that the reader must know (it was cut to fit)
    # How close the verdict was (analysis/margins.py Margin.to_dict()): P(A better) or the totals' gap, the band, and
    # whether a lead inside the band was called a tie ("too close to call"). Absent where it cannot be measured
    # (unparsed, failed, a parsed pairwise verdict) and in records from before the band.
    margin: dict | None = None
    # The system prompt each model got before the prompt; None = none was sent (its chat template's default applies).
    # Always written, so a record says so; records from before system prompts read as None, which they were.
    system_a: str | None = None
    system_b: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, str]:
        """(id, preset label): what identifies a record within a run."""
        return self.id, self.preset or "custom"

    @property
    def rubric_obj(self) -> Rubric:
        return Rubric.from_dict(self.rubric)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in OPTIONAL_KEYS:
            if data[key] is None:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict, rubric: Rubric | None = None) -> CompareRecord:
        """A record from any version's dict; `rubric` is the run's, used where a version-1 record has none."""
        data = dict(data)
        version = data.get("schema_version") or 1
        if version > SCHEMA_VERSION:
            from basics import UserFacingError

            raise UserFacingError(f"record {data.get('id')!r} has format version {version}, newer than this "
                                  f"program reads ({SCHEMA_VERSION}): update the program")
        scores = data.get("scores") or {}
        data["scores"] = {side: scores.get(side) for side in SIDES}
        totals = data.get("totals") or {}
        data["totals"] = {side: totals.get(side) for side in SIDES}
        data["answers"] = {side: (data.get("answers") or {}).get(side) or {"text": "", "n_tokens": None}
                           for side in SIDES}
        if not data.get("rubric"):
            data["rubric"] = (rubric or _rubric_from_scores(data["scores"])).to_dict()
        data["schema_version"] = SCHEMA_VERSION
        defaults = {"model_a": "", "model_b": "", "judge": "", "mode": "single", "status": UNPARSED,
                    "winner": None, "prompt": "", "id": ""}
        known = {f.name for f in fields(cls)}
        values = {**defaults, **{k: v for k, v in data.items() if k in known}}
        for name in ("reasons", "judgement", "sampling", "timings", "usage"):
            values[name] = values.get(name) or {}
        values["category"] = values.get("category") or ""
        values["reference"] = values.get("reference") or ""
        return cls(**values)


def cut_off_at(record: dict, side: str) -> int | None:
    """The token limit `side`'s answer was cut off at (it stopped at max_new_tokens, unfinished), else None.

    The answer's finish_reason says so ("length"); answers recorded before finish reasons were kept count as cut off
    when they are as long as the limit, the one sign those records carry.
    """
    answer = (record.get("answers") or {}).get(side) or {}
    limit = (record.get("sampling") or {}).get("max_new_tokens")
    reason = answer.get("finish_reason")
    if reason is not None:
        return (limit or answer.get("n_tokens")) if reason == "length" else None
    n_tokens = answer.get("n_tokens")
    return limit if limit and n_tokens is not None and n_tokens >= limit else None


def too_close(record: dict) -> bool:
    """The judge had a favourite, but inside the band of no difference: the record's winner is a tie."""
    return bool((record.get("margin") or {}).get("too_close"))


def _rubric_from_scores(scores: dict) -> Rubric:
    for side in SIDES:
        if scores.get(side):
            return Rubric(tuple(scores[side]), DEFAULT_SCALE)
    return Rubric()


def normalize_records(raw: list[dict], rubric: Rubric | None = None) -> list[dict]:
    """Records of any version as current-version dicts (every field present), for the analysis functions. Where a
    (prompt, preset) was recorded twice (a failed record, then its retry by a resume), the newest one counts."""
    records = [CompareRecord.from_dict(r, rubric) for r in raw]
    newest = {record.key: position for position, record in enumerate(records)}
    return [record.to_dict() for position, record in enumerate(records) if newest[record.key] == position]
