"""Single and pairwise judging: one retry on an unreadable reply, position swap, and explicit 'unparsed'."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from judge.output_format import output_grammar
from judge.parsing import PairwiseScores, ReplyParseError, SingleScores, parse_pairwise_reply, parse_single_reply
from judge.templates import JudgeTemplate
from models.backend import Backend
from models.settings import SamplingSettings

OK, UNPARSED = "ok", "unparsed"
RETRY_MESSAGE = (
    "Your reply could not be read: {reason}. Reply again with exactly these lines and nothing else:\n{output_format}"
)


@dataclass
class JudgeCall:
    """What the judge was asked and said, every attempt kept, whether or not it parsed."""

    status: str  # OK or UNPARSED
    constrained: bool = False  # the reply was held to the output format by a grammar
    raw_replies: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class SingleJudgement:
    status: str
    scores: dict[str, int] | None
    total: int | None
    reasons: str
    call: JudgeCall

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OrderVerdict:
    """One pass of the pairwise judge. `order` is 'AB' (A shown first) or 'BA'; labels are mapped back to A/B."""

    order: str
    status: str
    verdict: str | None
    scores_a: dict[str, int] | None
    scores_b: dict[str, int] | None
    reasons: str
    call: JudgeCall


@dataclass
class PairwiseVerdict:
    status: str  # OK only when every order parsed
    winner: str | None  # "A", "B", "tie"; None when a pass was unparsed: never a silent tie
    consistent: bool | None  # both orders agreed; None when there was one order or a pass was unparsed
    scores_a: dict[str, float] | None  # mean over the orders
    scores_b: dict[str, float] | None
    orders: list[OrderVerdict]

    @property
    def reasons(self) -> str:
        return "\n".join(f"[{o.order}] {o.reasons}" for o in self.orders if o.reasons)

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": self.reasons}


def ask_judge(judge: Backend, messages: list[dict], parse: Callable[[str], object], output_format: str,
              settings: SamplingSettings, constrain: bool = True):
    """(parsed or None, JudgeCall). A bad reply gets one retry that tells the judge what was wrong with it.

    With `constrain`, a judge whose backend supports grammars is held to the output format; the reply is
    parsed all the same, so a grammar mistake could never turn into a score unnoticed.
    """
    grammar = output_grammar(output_format) if constrain and judge.supports_grammar else None
    call = JudgeCall(status=UNPARSED, constrained=grammar is not None)
    started = time.perf_counter()
    conversation = list(messages)
    parsed = None
    for _attempt in range(2):
        reply = judge.score(conversation, settings, grammar=grammar).text
        call.raw_replies.append(reply)
        try:
            parsed = parse(reply)
            call.status, call.error = OK, None
            break
        except ReplyParseError as exc:
            call.error = str(exc)
            # Greedy decoding would repeat itself verbatim: the retry must change the input, not just resample.
            conversation = [
                *messages,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": RETRY_MESSAGE.format(reason=exc, output_format=output_format.strip())},
            ]
    call.seconds = time.perf_counter() - started
    return parsed, call


def judge_single(judge: Backend, template: JudgeTemplate, prompt: str, answer: str,
                 settings: SamplingSettings, reference: str = "", constrain: bool = True) -> SingleJudgement:
    messages = template.render(prompt=prompt, answer=answer, reference=reference)
    parsed, call = ask_judge(
        judge, messages, lambda r: parse_single_reply(r, template.criteria, template.scale),
        template.output_format, settings, constrain,
    )
    if not isinstance(parsed, SingleScores):
        return SingleJudgement(status=UNPARSED, scores=None, total=None, reasons="", call=call)
    return SingleJudgement(status=OK, scores=parsed.scores, total=parsed.total, reasons=parsed.reasons, call=call)


def judge_pair(judge: Backend, template: JudgeTemplate, prompt: str, answer_a: str, answer_b: str,
               settings: SamplingSettings, reference: str = "", swap: bool = True,
               constrain: bool = True) -> PairwiseVerdict:
    """Judge A vs B, and B vs A when `swap`: a verdict that flips with the order becomes an inconsistent tie."""
    passes = [("AB", answer_a, answer_b)] + ([("BA", answer_b, answer_a)] if swap else [])
    orders = []
    for order, first, second in passes:
        messages = template.render(prompt=prompt, answer_a=first, answer_b=second, reference=reference)
        parsed, call = ask_judge(
            judge, messages, lambda r: parse_pairwise_reply(r, template.criteria, template.scale),
            template.output_format, settings, constrain,
        )
        orders.append(_to_original_labels(order, parsed, call))
    return combine_orders(orders)


def _to_original_labels(order: str, parsed: PairwiseScores | None, call: JudgeCall) -> OrderVerdict:
    if parsed is None:
        return OrderVerdict(order, UNPARSED, None, None, None, "", call)
    if order == "AB":
        return OrderVerdict(order, OK, parsed.verdict, parsed.scores_a, parsed.scores_b, parsed.reasons, call)
    flipped = {"A": "B", "B": "A", "tie": "tie"}[parsed.verdict]
    return OrderVerdict(order, OK, flipped, parsed.scores_b, parsed.scores_a, parsed.reasons, call)


def combine_orders(orders: list[OrderVerdict]) -> PairwiseVerdict:
    if any(o.status != OK for o in orders):
        return PairwiseVerdict(UNPARSED, None, None, None, None, orders)
    verdicts = {o.verdict for o in orders}
    consistent = None if len(orders) == 1 else len(verdicts) == 1
    winner = orders[0].verdict if len(verdicts) == 1 else "tie"
    criteria = list(orders[0].scores_a)
    mean_a = {c: sum(o.scores_a[c] for o in orders) / len(orders) for c in criteria}
    mean_b = {c: sum(o.scores_b[c] for o in orders) / len(orders) for c in criteria}
    return PairwiseVerdict(OK, winner, consistent, mean_a, mean_b, orders)


def single_winner(a: SingleJudgement, b: SingleJudgement) -> str | None:
    """Winner by total score; None (unknown) unless both answers were scored."""
    if a.total is None or b.total is None:
        return None
    return "A" if a.total > b.total else "B" if b.total > a.total else "tie"
