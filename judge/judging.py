"""Single and pairwise judging by either method: `parsed` (generate a reply, parse it, one retry, explicit 'unparsed')
or `probabilities` (read the judge's probabilities of every allowed value: judge/weighted.py); position swap."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from basics import UserFacingError
from judge.output_format import output_grammar
from judge.parsing import PairwiseScores, ReplyParseError, SingleScores, parse_pairwise_reply, parse_single_reply
from judge.result_format import RESULT, parse_result_reply, result_options
from judge.rewards import is_reward_model, reward_scores, reward_winner
from judge.templates import JudgeTemplate
from judge.weighted import ChoiceReading, FormatReading, read_format, read_reply_format, weighted_scores
from models.backend import Backend
from models.settings import SamplingSettings

OK, UNPARSED = "ok", "unparsed"
PARSED, PROBABILITIES, HEAD = "parsed", "probabilities", "head"
METHODS = (PARSED, PROBABILITIES)  # what a generative judge can be asked for; a scoring judge always uses HEAD
REASONS_REQUEST = ("These are your grades:\n{grades}\nIn one or two sentences, give the reasons for them. "
                   "Reply with the reasons only.")
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
    input_tokens: int = 0  # summed over attempts, where the backend reports them (served judges); else 0
    output_tokens: int = 0

    def count(self, generation) -> None:
        self.input_tokens += generation.input_tokens or 0
        self.output_tokens += generation.n_tokens if generation.input_tokens is not None else 0


@dataclass
class SingleJudgement:
    status: str
    scores: dict[str, float] | None  # whole numbers when parsed; expected values when read from probabilities
    total: float | None
    reasons: str
    call: JudgeCall
    method: str = PARSED
    confidence: dict[str, float] | None = None  # probabilities: the mass on the scale's values, per criterion
    readings: list[dict] | None = None  # probabilities: every choice read, with its options' probabilities
    reward: float | None = None  # a reward model's raw reward (its score is `preference` mapped onto the scale)

    def to_dict(self) -> dict:
        data = asdict(self)
        return data if self.reward is not None else {k: v for k, v in data.items() if k != "reward"}


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
    probabilities: dict[str, float] | None = None  # P(A), P(B), P(tie) in the original labels (probabilities)
    readings: list[dict] | None = None


@dataclass
class PairwiseVerdict:
    status: str  # OK only when every order parsed
    winner: str | None  # "A", "B", "tie"; None when a pass was unparsed: never a silent tie
    consistent: bool | None  # both orders agreed; None when there was one order or a pass was unparsed
    scores_a: dict[str, float] | None  # mean over the orders
    scores_b: dict[str, float] | None
    orders: list[OrderVerdict]
    method: str = PARSED
    probabilities: dict[str, float] | None = None  # probabilities: P(A), P(B), P(tie) averaged over the orders
    rewards: dict[str, float] | None = None  # a reward model: each answer's raw reward, averaged over the orders

    @property
    def reasons(self) -> str:
        return "\n".join(f"[{o.order}] {o.reasons}" for o in self.orders if o.reasons)

    def to_dict(self) -> dict:
        data = {**asdict(self), "reasons": self.reasons}
        return data if self.rewards is not None else {k: v for k, v in data.items() if k != "rewards"}


def ask_judge(judge: Backend, messages: list[dict], parse: Callable[[str], object], output_format: str,
              settings: SamplingSettings, constrain: bool = True, scores_only: bool = False):
    """(parsed or None, JudgeCall). A bad reply gets one retry that tells the judge what was wrong with it.

    With `constrain`, a judge whose backend supports grammars is held to the output format; the reply is
    parsed all the same, so a grammar mistake could never turn into a score unnoticed. With `scores_only` as well,
    it is held to the format up to its last choice: it writes no reasons after its verdict (for callers that keep
    none, such as the Judge Lab; a small judge's reasons often ran to the token limit, most of the call's time).
    """
    grammar = output_grammar(output_format, scores_only) if constrain and judge.supports_grammar else None
    call = JudgeCall(status=UNPARSED, constrained=grammar is not None)
    started = time.perf_counter()
    conversation = list(messages)
    parsed = None
    for _attempt in range(2):
        generation = judge.score(conversation, settings, grammar=grammar)
        call.count(generation)
        reply = generation.text
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


def check_method(method: str) -> str:
    if method not in (*METHODS, HEAD):
        raise UserFacingError(f"judge method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def read_judge(judge: Backend, messages: list[dict], output_format: str, settings: SamplingSettings
               ) -> tuple[FormatReading, JudgeCall]:
    """The probabilities method's one 'call': the format walked with the judge's token probabilities (teacher-forced
    locally; read from the alternatives of its reply's tokens on a served model)."""
    started = time.perf_counter()
    if judge.capabilities.token_probabilities:
        reading = read_format(judge, messages, output_format, settings)
        call = JudgeCall(status=OK, raw_replies=[reading.written or reading.text])
    else:
        reading, generation = read_reply_format(judge, messages, output_format, settings)
        call = JudgeCall(status=OK, raw_replies=[generation.text])
        call.count(generation)
    call.seconds = time.perf_counter() - started
    return reading, call


def ask_reasons(judge: Backend, messages: list[dict], grades: str, settings: SamplingSettings) -> str:
    """Reasons for grades already fixed (probabilities method): asked after the scores, so they cannot move them."""
    conversation = [*messages, {"role": "user", "content": REASONS_REQUEST.format(grades=grades.strip())}]
    return judge.complete(conversation, settings.with_(max_new_tokens=min(settings.max_new_tokens, 80))).text.strip()


def single_parser(template: JudgeTemplate) -> Callable[[str], SingleScores]:
    """The template's reply parser for one answer: its criteria's lines, or one '[RESULT] n' for its one criterion."""
    if template.parser == RESULT:
        options = result_options(template.output_format)

        def parse(reply: str) -> SingleScores:
            found = parse_result_reply(reply, options)
            return SingleScores({template.criteria[0]: int(found.value)}, reasons=found.feedback)
        return parse
    return lambda reply: parse_single_reply(reply, template.criteria, template.scale)


def pair_parser(template: JudgeTemplate) -> Callable[[str], PairwiseScores]:
    """The template's reply parser for a pair: scores per criterion and [[A]], or a verdict only, '[RESULT] A'."""
    if template.parser == RESULT:
        options = result_options(template.output_format)

        def parse(reply: str) -> PairwiseScores:
            found = parse_result_reply(reply, options)
            return PairwiseScores(verdict=found.value, reasons=found.feedback)
        return parse
    return lambda reply: parse_pairwise_reply(reply, template.criteria, template.scale)


def _read_scores(reading: FormatReading, template: JudgeTemplate, slot: str | None = None):
    """({criterion: expected score}, {criterion: confidence}) from a reading, or None; a [RESULT] template's one score
    is its one choice, read after the judge's feedback."""
    if template.parser == RESULT and template.mode == "single":
        if len(reading.readings) != 1:
            return None
        found = reading.readings[0]
        return ({template.criteria[0]: round(found.expected_value(), 4)},
                {template.criteria[0]: round(found.mass, 5)})
    return weighted_scores(reading, template.criteria, slot)


def judge_single(judge: Backend, template: JudgeTemplate, prompt: str, answer: str,
                 settings: SamplingSettings, reference: str = "", constrain: bool = True,
                 method: str = PARSED, reasons: bool = False, rubric: str = "", scores_only: bool = False
                 ) -> SingleJudgement:
    """Grade one answer on the template's rubric; `reasons` asks the probabilities method for a rationale too (a
    format whose judge writes feedback before its score has that feedback as its reasons instead); `scores_only`
    has the parsed method's judge stop after its last score (ask_judge)."""
    if judge.capabilities.answer_scores:
        (scores,), call, rewards = scored_alone(judge, template, prompt, [answer])
        if scores is None:
            return SingleJudgement(UNPARSED, None, None, "", call, method=HEAD)
        return SingleJudgement(OK, scores, round(sum(scores.values()), 4), "", call, method=HEAD,
                               reward=rewards[0] if rewards else None)
    messages = template.render(prompt=prompt, answer=answer, reference=reference, rubric=rubric)
    if check_method(method) == PROBABILITIES:
        reading, call = read_judge(judge, messages, template.output_format, settings)
        weighted = _read_scores(reading, template)
        if weighted is None:
            call.status, call.error = UNPARSED, unread_reason(reading)
            return SingleJudgement(UNPARSED, None, None, "", call, method=PROBABILITIES)
        scores, confidence = weighted
        why = written_reasons(reading, judge, messages, settings, reasons)
        return SingleJudgement(OK, scores, round(sum(scores.values()), 4), why, call, method=PROBABILITIES,
                               confidence=confidence, readings=[r.to_dict() for r in reading.readings])
    parsed, call = ask_judge(judge, messages, single_parser(template), template.output_format, settings, constrain,
                             scores_only)
    if not isinstance(parsed, SingleScores):
        return SingleJudgement(status=UNPARSED, scores=None, total=None, reasons="", call=call)
    return SingleJudgement(status=OK, scores=parsed.scores, total=parsed.total, reasons=parsed.reasons, call=call)


def unread_reason(reading: FormatReading, otherwise: str = "the output format has no score choice for every "
                                                               "criterion") -> str:
    """Why a probabilities reading gave no scores, for the call's error."""
    if reading.written and reading.feedback is None:
        return "the judge wrote its result marker more than once: no score is read from its reply"
    if reading.written and not reading.readings:
        return "the judge's reply does not reach its result marker in the format's shape: no score is read from it"
    return otherwise


def written_reasons(reading: FormatReading, judge: Backend, messages: list[dict], settings: SamplingSettings,
                    ask: bool) -> str:
    """The feedback a judge wrote before its score where the format has it (with a note when the token limit cut it
    off before the marker), else reasons asked after the scores are fixed when `ask`."""
    if reading.feedback is not None:
        cut = "" if reading.feedback_complete else (" (the feedback reached the token limit before [RESULT]: the "
                                                    "score was read after it as it stands)")
        return reading.feedback + cut
    return ask_reasons(judge, messages, reading.text, settings) if ask else ""


def judge_pair(judge: Backend, template: JudgeTemplate, prompt: str, answer_a: str, answer_b: str,
               settings: SamplingSettings, reference: str = "", swap: bool = True,
               constrain: bool = True, method: str = PARSED, reasons: bool = False,
               rubric: str = "", scores_only: bool = False) -> PairwiseVerdict:
    """Judge A vs B, and B vs A when `swap`; `scores_only` as in judge_single.

    parsed: a verdict that flips with the order becomes an inconsistent tie. probabilities: P(A), P(B), P(tie) are
    averaged over the orders, so a position preference cancels out instead of forcing a tie.
    """
    if judge.capabilities.answer_scores:
        return head_pair(judge, template, prompt, answer_a, answer_b, swap)
    passes = [("AB", answer_a, answer_b)] + ([("BA", answer_b, answer_a)] if swap else [])
    orders = []
    for order, first, second in passes:
        messages = template.render(prompt=prompt, answer_a=first, answer_b=second, reference=reference,
                                   rubric=rubric)
        if check_method(method) == PROBABILITIES:
            reading, call = read_judge(judge, messages, template.output_format, settings)
            why = written_reasons(reading, judge, messages, settings, reasons)
            orders.append(_weighted_order(order, reading, call, template.criteria, why))
            continue
        parsed, call = ask_judge(judge, messages, pair_parser(template), template.output_format, settings, constrain,
                                 scores_only)
        orders.append(_to_original_labels(order, parsed, call))
    return combine_weighted_orders(orders) if method == PROBABILITIES else combine_orders(orders)


def head_pair(judge: Backend, template: JudgeTemplate, prompt: str, answer_a: str, answer_b: str, swap: bool
              ) -> PairwiseVerdict:
    """A scoring judge's verdict: the higher total (a reward model's: the higher raw reward). Each answer is scored
    alone, so the order cannot matter; with `swap` the pair is scored again in the other order all the same, so
    position consistency is measured, not assumed."""
    orders, rewarded = [], []
    for order, first, second in [("AB", answer_a, answer_b)] + ([("BA", answer_b, answer_a)] if swap else []):
        (scores_first, scores_second), call, rewards = scored_alone(judge, template, prompt, [first, second])
        if scores_first is None:
            return PairwiseVerdict(UNPARSED, None, None, None, None, [], method=HEAD)
        scores_a, scores_b = (scores_first, scores_second) if order == "AB" else (scores_second, scores_first)
        if rewards:
            reward_a, reward_b = rewards if order == "AB" else rewards[::-1]
            rewarded.append((reward_a, reward_b))
            winner = reward_winner(reward_a, reward_b)
        else:
            total_a, total_b = sum(scores_a.values()), sum(scores_b.values())
            winner = "A" if total_a > total_b else "B" if total_b > total_a else "tie"
        orders.append(OrderVerdict(order, OK, winner, scores_a, scores_b, "", call))
    consistent = len({o.verdict for o in orders}) == 1 if swap else None
    first = orders[0]
    rewards = {side: sum(r[i] for r in rewarded) / len(rewarded) for i, side in enumerate("AB")} if rewarded else None
    return PairwiseVerdict(OK, first.verdict if consistent is not False else "tie", consistent, first.scores_a,
                           first.scores_b, orders, method=HEAD, rewards=rewards)


def scored_alone(judge: Backend, template: JudgeTemplate, prompt: str, answers: list[str]
                 ) -> tuple[list[dict | None], JudgeCall, list[float] | None]:
    """(scores of each answer, the call, a reward model's raw rewards or None): a reward head scores its criteria, a
    reward model its one `preference` on the template's scale (judge/rewards.py)."""
    if not is_reward_model(judge):
        return (*head_scores(judge, template, prompt, answers), None)
    started = time.perf_counter()
    scores, rewards, error = reward_scores(judge, template.scale, prompt, answers)
    return scores, JudgeCall(UNPARSED if error else OK, error=error, seconds=time.perf_counter() - started), rewards


def head_scores(judge: Backend, template: JudgeTemplate, prompt: str, answers: list[str]
                ) -> tuple[list[dict | None], JudgeCall]:
    """A scoring judge's scores of each answer on the template's criteria; None each (and the call's error) where
    the judge does not score the template's criteria on its scale."""
    started = time.perf_counter()
    if not judge.criteria:
        error = (f"{judge.spec.text} is a label judge ({', '.join(judge.labels)}): it classifies texts and gives no "
                 "scores; use it with a label template (--mode label), or pick a scoring judge")
        return [None] * len(answers), JudgeCall(UNPARSED, error=error)
    missing = [c for c in template.criteria if c not in judge.criteria]
    if missing or tuple(judge.head.scale) != tuple(template.scale):
        error = (f"{judge.spec.text} scores {', '.join(judge.criteria)} on {judge.head.scale[0]}-"
                 f"{judge.head.scale[1]}; template {template.name!r} asks for {', '.join(template.criteria)} on "
                 f"{template.scale[0]}-{template.scale[1]}: use a template with the judge's criteria and scale")
        return [None] * len(answers), JudgeCall(UNPARSED, error=error)
    scored = judge.answer_scores(prompt, answers)
    call = JudgeCall(OK, seconds=time.perf_counter() - started)
    return [{c: s[c] for c in template.criteria} for s in scored], call


FLIP = {"A": "B", "B": "A", "tie": "tie"}
# A verdict choice as the output format writes it: '[[A]] or [[B]] or [[tie]]', or bare as in '[RESULT] <A|B>'.
VERDICT_OPTIONS = {"[[A]]": "A", "[[B]]": "B", "[[tie]]": "tie", "A": "A", "B": "B", "tie": "tie"}


def _verdict_reading(reading: FormatReading) -> ChoiceReading | None:
    """The last choice that names the better answer (A and B among its options, nothing but verdicts)."""
    found = [r for r in reading.readings if set(r.options) <= set(VERDICT_OPTIONS)
             and {"A", "B"} <= {VERDICT_OPTIONS[o] for o in r.options}]
    return found[-1] if found else None


def _weighted_order(order: str, reading: FormatReading, call: JudgeCall, criteria: tuple[str, ...],
                    reasons: str) -> OrderVerdict:
    """One order read from probabilities, in the original labels (in 'BA' the judge's A is answer B)."""
    verdict = _verdict_reading(reading)
    first, second = weighted_scores(reading, criteria, "A"), weighted_scores(reading, criteria, "B")
    if verdict is None or first is None or second is None:
        call.status, call.error = UNPARSED, unread_reason(reading, "the output format has no verdict or score "
                                                                   "choice to read")
        return OrderVerdict(order, UNPARSED, None, None, None, "", call)
    shown = {VERDICT_OPTIONS[o]: p for o, p in zip(verdict.options, verdict.probabilities)}
    probabilities = shown if order == "AB" else {FLIP[k]: p for k, p in shown.items()}
    scores_a, scores_b = (first[0], second[0]) if order == "AB" else (second[0], first[0])
    return OrderVerdict(order, OK, max(probabilities, key=probabilities.get), scores_a, scores_b, reasons, call,
                        probabilities={k: round(v, 5) for k, v in probabilities.items()},
                        readings=[r.to_dict() for r in reading.readings])


def combine_weighted_orders(orders: list[OrderVerdict]) -> PairwiseVerdict:
    """The verdict with the highest probability averaged over the orders; `consistent` says whether each order's
    most probable verdict was the same."""
    if any(o.status != OK for o in orders):
        return PairwiseVerdict(UNPARSED, None, None, None, None, orders, method=PROBABILITIES)
    # A verdict-only format without a tie option ('[RESULT] <A|B>') has no P(tie) to average.
    names = [k for k in ("A", "B", "tie") if all(k in o.probabilities for o in orders)]
    probabilities = {k: round(sum(o.probabilities[k] for o in orders) / len(orders), 5) for k in names}
    combined = combine_orders(orders)
    winner = max(probabilities, key=probabilities.get)
    return PairwiseVerdict(OK, winner, combined.consistent, combined.scores_a, combined.scores_b, orders,
                           method=PROBABILITIES, probabilities=probabilities)


def _to_original_labels(order: str, parsed: PairwiseScores | None, call: JudgeCall) -> OrderVerdict:
    if parsed is None:
        return OrderVerdict(order, UNPARSED, None, None, None, "", call)
    if order == "AB":
        return OrderVerdict(order, OK, parsed.verdict, parsed.scores_a, parsed.scores_b, parsed.reasons, call)
    flipped = FLIP[parsed.verdict]
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
    """Winner by total score (a reward model's: by raw reward); None (unknown) unless both answers were scored."""
    if a.total is None or b.total is None:
        return None
    if a.reward is not None and b.reward is not None:  # a reward model: mapped scores can round alike, rewards not
        return reward_winner(a.reward, b.reward)
    return "A" if a.total > b.total else "B" if b.total > a.total else "tie"
