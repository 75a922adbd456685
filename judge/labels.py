"""Label judging: one class of a fixed set (toxic / non_toxic, pass / fail) per text, by either method.

parsed: the reply's last [[label]] among the template's labels (a text quoting another label earlier cannot set
it); probabilities: the judge's probability of each [[label]] option, read as in judge/weighted.py.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from judge.judging import HEAD, OK, PROBABILITIES, UNPARSED, JudgeCall, ask_judge, check_method, read_judge
from judge.parsing import parse_label_reply
from judge.templates import JudgeTemplate, TemplateError
from models.backend import Backend
from models.settings import SamplingSettings


@dataclass
class LabelJudgement:
    status: str  # OK, or UNPARSED when no label could be read
    label: str | None
    probabilities: dict[str, float] | None  # probabilities method: P(label) normalised over the labels
    confidence: float | None  # probabilities method: the mass on the labels
    method: str
    call: JudgeCall

    def to_dict(self) -> dict:
        return asdict(self)


def judge_label(judge: Backend, template: JudgeTemplate, text: str, settings: SamplingSettings, prompt: str = "",
                constrain: bool = True, method: str = "parsed", scores_only: bool = False) -> LabelJudgement:
    """Classify `text` with a label template; `scores_only`: the parsed method's judge stops after its label."""
    if template.mode != "label":
        raise TemplateError(f"template {template.name!r} is a {template.mode} template: label judging needs a "
                            "template with mode: label and its labels")
    if judge.capabilities.answer_scores:
        return head_label(judge, template, text)
    messages = template.render(answer=text, prompt=prompt)
    if check_method(method) == PROBABILITIES:
        reading, call = read_judge(judge, messages, template.output_format, settings)
        options = {f"[[{label}]]": label for label in template.labels}
        found = reading.with_options(set(options))
        if found is None:
            call.status, call.error = UNPARSED, "the output format has no choice between the labels"
            return LabelJudgement(UNPARSED, None, None, None, PROBABILITIES, call)
        probabilities = {options[o]: round(p, 5) for o, p in zip(found.options, found.probabilities)}
        return LabelJudgement(OK, options[found.chosen], probabilities, round(found.mass, 5), PROBABILITIES, call)
    label, call = ask_judge(judge, messages, lambda r: parse_label_reply(r, template.labels), template.output_format,
                            settings, constrain, scores_only)
    return LabelJudgement(OK if label else UNPARSED, label, None, None, method, call)


def head_label(judge: Backend, template: JudgeTemplate, text: str) -> LabelJudgement:
    """A label head's class: the likelier of the template's labels, with both probabilities."""
    started = time.perf_counter()
    if set(judge.labels) != set(template.labels):
        have = ", ".join(judge.labels) or "no labels (it scores answers)"
        call = JudgeCall(UNPARSED, error=f"{judge.spec.text} classifies as {have}; template {template.name!r} asks for "
                                         f"{', '.join(template.labels)}: pick a template with the judge's labels")
        return LabelJudgement(UNPARSED, None, None, None, HEAD, call)
    (probabilities,) = judge.label_probabilities([text])
    label = max(template.labels, key=lambda x: probabilities[x])
    return LabelJudgement(OK, label, probabilities, 1.0, HEAD, JudgeCall(OK, seconds=time.perf_counter() - started))
