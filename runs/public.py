"""Public mode: the rules a shared app (a Hugging Face Space, a demo) applies to what visitors send.

On by default on a Space ($SPACE_ID is set), or with `python app.py --public` / $LLM_JUDGE_PUBLIC=1; off with
$LLM_JUDGE_PUBLIC=0. The allow-list and the limits are data (prompts/public/allow_list.yaml, or
$LLM_JUDGE_PUBLIC_CONFIG). Every check here looks at the text a visitor sent, never at the server's files first,
so an answer can never tell whether some server path exists.
"""
from __future__ import annotations

import functools
import os
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from basics import PROMPTS_DIR, REPO_ROOT, UserFacingError, results_dir
from judge.templates import load_template
from models.registry import reset_max_loaded, set_max_loaded
from models.spec import HEAD_PREFIX, REWARD_PREFIX, known_model_specs, shipped_judges
from runs.config import CompareConfig, default_model_pair
from runs.prompt_sets import PromptItem, shipped_prompt_sets

DEFAULT_POLICY_FILE = PROMPTS_DIR / "public" / "allow_list.yaml"
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SHOWN = 60  # characters of a refused value echoed back: enough to recognise it, not a place to store text


class PublicModeError(UserFacingError):
    """A visitor asked a public app for something it does not offer; the message says what it does offer."""


def public_mode_on() -> bool:
    """$LLM_JUDGE_PUBLIC decides when set (1/true/yes or 0/false/no); otherwise on exactly when running as a Space."""
    flag = os.environ.get("LLM_JUDGE_PUBLIC", "").strip().lower()
    if flag in {"1", "true", "yes", "on"}:
        return True
    if flag in {"0", "false", "no", "off"}:
        return False
    if flag:  # a typo must not leave a shared app open to any model and file on the server
        raise UserFacingError(f"$LLM_JUDGE_PUBLIC must be 1, true, yes or on (public mode) or 0, false, no or off, "
                              f"got {_shown(flag)}: fix it, or unset it to decide by $SPACE_ID")
    return bool(os.environ.get("SPACE_ID"))


@dataclass(frozen=True)
class PublicLimits:
    prompt_chars: int = 4000
    max_new_tokens: int = 512
    prompt_set_items: int = 50
    labelled_items: int = 200
    requests_per_visitor: int = 1
    models_loaded: int = 4
    upload_bytes: int = 4_000_000  # one uploaded file: 50 long prompts, or 200 labelled pairs, fit well within it


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


@dataclass(frozen=True)
class PublicPolicy:
    """What visitors may pick and how much they may ask for."""

    models: tuple[str, ...]
    limits: PublicLimits
    include_shipped: bool = True

    def allowed_models(self) -> list[str]:
        extra = [*default_model_pair(), *shipped_judges()] if self.include_shipped else []
        return list(dict.fromkeys([*self.models, *extra]))

    def check_model(self, spec: str, role: str = "model") -> str:
        """`spec` itself when it is on the allow-list; judged on the text alone, before any file is looked at."""
        allowed = self.allowed_models()
        clean = spec.strip() if isinstance(spec, str) else None  # a number or a list sent by hand: refused the same
        if clean not in allowed:
            raise PublicModeError(f"{role} {_shown(spec)} is not offered on this shared app: pick one of "
                                  f"{', '.join(allowed)} (run the app yourself to use any model)")
        return clean

    def check_compare(self, config: CompareConfig, items: list[PromptItem]) -> None:
        """Everything a compare or batch request asks for, before anything loads or runs."""
        for role, spec in (("Model A", config.model_a), ("Model B", config.model_b),
                           *(("judge", j) for j in config.judges)):
            self.check_model(spec, role)
        self.check_template(config.template_text)
        if config.template:
            raise PublicModeError("judge templates cannot be chosen on this shared app: the shipped template for "
                                  "the mode is used")
        self.check_max_new_tokens(config.sampling.max_new_tokens)
        self.check_items(items, self.limits.prompt_set_items, "prompts")
        self.check_prompt(config.system_a, what="system prompt for Model A")
        self.check_prompt(config.system_b, what="system prompt for Model B")
        for item in items:
            self.check_prompt(item.prompt)
            self.check_prompt(item.reference, what="reference answer")
            self.check_prompt(item.system, what=f"system prompt of prompt {item.id!r}")

    def check_template(self, text: str | None) -> None:
        """Only the shipped templates, as the page shows them: an edited one could be made to cost without bound."""
        if text and text.strip() and text.strip() not in shipped_template_texts():
            raise PublicModeError("editing the judge template is off on this shared app: pick the mode (or a "
                                  "template) again to restore a shipped one, or run the app yourself to use your own")

    def check_prompt(self, text: str, what: str = "instruction") -> None:
        if len(text or "") > self.limits.prompt_chars:
            raise PublicModeError(f"the {what} has {len(text):,} characters; this shared app takes at most "
                                  f"{self.limits.prompt_chars:,}: shorten it")

    def check_max_new_tokens(self, value: int) -> None:
        if int(value) > self.limits.max_new_tokens:
            raise PublicModeError(f"max new tokens {int(value)} is over this shared app's limit of "
                                  f"{self.limits.max_new_tokens}: pick a smaller length")

    def check_items(self, items: list, limit: int, what: str) -> None:
        if len(items) > limit:
            raise PublicModeError(f"{len(items)} {what} is over this shared app's limit of {limit} per run: "
                                  f"set Limit to {limit} or less, or upload a smaller file")

    def check_data_file(self, value: str | None, upload_root: str | Path | None, suffixes: tuple[str, ...],
                        shipped: list[str] | None = None) -> str:
        """A shipped name, or a file this app received as an upload (under Gradio's upload folder): never any
        other server path. The refusal is the same whether or not such a path exists."""
        text = value.strip() if isinstance(value, str) else ""
        if text in (shipped if shipped is not None else shipped_prompt_sets()):
            return text
        if upload_root and text and Path(text).suffix.lower() in suffixes and ".." not in Path(text).parts:
            root = os.path.realpath(upload_root)
            if os.path.commonpath([root, os.path.realpath(text)]) == root and os.path.isfile(text):
                # Before it is read: a loader reads a file whole, and an upload can be as large as the disk.
                if os.path.getsize(text) > self.limits.upload_bytes:
                    raise PublicModeError(f"the file {Path(text).name!r} has {os.path.getsize(text):,} bytes; this "
                                          f"shared app takes files of at most {self.limits.upload_bytes:,}: upload "
                                          "a smaller one (fewer rows)")
                return text
        raise PublicModeError(f"on this shared app a file is one of the shipped ones or one you upload "
                              f"({', '.join(suffixes)}); got {_shown(value)}")

    def check_run(self, name_or_path: str | None) -> str:
        """A run named by its folder's name, or by a path inside the results folder: never any other path."""
        text = name_or_path.strip() if isinstance(name_or_path, str) else ""
        root = os.path.realpath(results_dir())
        candidate = os.path.realpath(results_dir() / text) if RUN_NAME.fullmatch(text) else os.path.realpath(text)
        # A run folder (run.json in it), not any folder in there (.cache): the answer is the same for both, so it
        # tells nothing about what else the results folder holds.
        if text and os.path.commonpath([root, candidate]) == root and candidate != root \
                and os.path.isfile(os.path.join(candidate, "run.json")):
            return candidate
        raise PublicModeError(f"no run {_shown(name_or_path)} on this shared app: pick one from the list")


@functools.cache
def shipped_template_texts() -> frozenset[str]:
    """The shipped templates as the page shows them (to_yaml), the texts a shared app accepts."""
    texts = set()
    for path in sorted(PROMPTS_DIR.glob("*.yaml")):
        try:
            texts.add(load_template(path).to_yaml().strip())
        except UserFacingError:  # prompts/ holds other YAML data too (prices)
            continue
    return frozenset(texts)


def load_public_policy(path: str | Path | None = None) -> PublicPolicy:
    """The policy from `path`, $LLM_JUDGE_PUBLIC_CONFIG or the shipped allow-list; unknown keys are errors."""
    source = Path(path or os.environ.get("LLM_JUDGE_PUBLIC_CONFIG") or DEFAULT_POLICY_FILE)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserFacingError(f"cannot read the public-mode allow-list {source}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models", []), list):
        raise UserFacingError(f"{source}: expected a mapping with a `models:` list (see {DEFAULT_POLICY_FILE})")
    unknown = set(data) - {"models", "include_shipped", "limits"}
    limits = data.get("limits") or {}
    known_limits = {f.name for f in fields(PublicLimits)}
    unknown |= {f"limits.{k}" for k in set(limits) - known_limits}
    if unknown:
        raise UserFacingError(f"{source}: unknown keys {', '.join(sorted(unknown))}; known: models, "
                              f"include_shipped, limits ({', '.join(sorted(known_limits))})")
    bad = [k for k, v in limits.items() if not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if bad:
        raise UserFacingError(f"{source}: limits must be whole numbers of at least 1 ({', '.join(bad)})")
    return PublicPolicy(models=tuple(str(m).strip() for m in data.get("models") or []),
                        limits=PublicLimits(**limits), include_shipped=bool(data.get("include_shipped", True)))


class VisitorSlots:
    """At most `per_visitor` requests running at once for one visitor (a browser session), so one visitor cannot
    fill the queue that everyone shares."""

    def __init__(self, per_visitor: int):
        self.per_visitor = per_visitor
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, visitor: str | None):
        key = visitor or "anonymous"
        with self._lock:
            if self._running[key] >= self.per_visitor:
                raise PublicModeError(f"you already have {self._running[key]} request(s) running on this shared "
                                      f"app (the limit is {self.per_visitor}): wait for it to finish")
            self._running[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]


@dataclass
class PublicGate:
    """The public mode in force in this process: its policy and who is running what."""

    policy: PublicPolicy
    slots: VisitorSlots


_GATE: PublicGate | None = None


def enable_public_mode(policy: PublicPolicy | None = None) -> PublicGate:
    """Turn public mode on for this process (the app calls it once, before building its page)."""
    global _GATE
    policy = policy or load_public_policy()
    _GATE = PublicGate(policy, VisitorSlots(policy.limits.requests_per_visitor))
    set_max_loaded(policy.limits.models_loaded)
    return _GATE


def disable_public_mode() -> None:
    """Public mode off again, with the models' limit back to $LLM_JUDGE_MAX_MODELS's: for tests that turned it on in
    their own process (an app turns it on for good)."""
    global _GATE
    _GATE = None
    reset_max_loaded()


def public_gate() -> PublicGate | None:
    """The gate when public mode is on, else None (a private app lets its user name any model or file)."""
    return _GATE


def offered_models() -> list[str]:
    """The specs the pickers offer: the allow-list in public mode, else every model this machine knows."""
    return _GATE.policy.allowed_models() if _GATE else known_model_specs()


def offered_answering_models() -> list[str]:
    """What the Model A and Model B pickers offer: offered_models() less the scoring judges and reward models, which
    write no answers."""
    judges = set(shipped_judges())
    return [spec for spec in offered_models()
            if spec not in judges and not spec.startswith(HEAD_PREFIX) and not spec.startswith(REWARD_PREFIX)]


@contextmanager
def visitor_slot(visitor: str | None):
    """One of the visitor's request slots while a request runs (a no-op on a private app)."""
    if _GATE is None:
        yield
        return
    with _GATE.slots.slot(visitor):
        yield


def app_concurrency() -> int:
    """Requests the app works on at once per action ($LLM_JUDGE_APP_CONCURRENCY, default 4). Each loaded model
    still generates for one request at a time (its lock), so requests overlap where they use different models or
    stages: one answers while another is judged."""
    text = (os.environ.get("LLM_JUDGE_APP_CONCURRENCY") or "4").strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 64:  # ASCII: '²' is a digit to isdigit
        raise UserFacingError(f"$LLM_JUDGE_APP_CONCURRENCY must be a whole number from 1 to 64, got {text!r}")
    return int(text)


def hide_server_paths(text: str, *more: str | Path) -> str:
    """`text` with this server's folders (the results folder, the app's own, the home folder, and `more`, e.g. the
    upload folder) named short, on a shared app: a visitor learns what went wrong, not how the server is laid out.
    Unchanged on a private app, whose user may need the full path."""
    if _GATE is None:
        return text
    names = {}
    for root, name in ((Path.home(), "~"), (REPO_ROOT, "app"), *((m, "uploads") for m in more),
                       (results_dir(), "results")):
        for form in (str(root), os.path.abspath(root), os.path.realpath(root)):
            if len(form) > 1:
                names[form] = name
    for form in sorted(names, key=len, reverse=True):  # the results folder inside the app's is named as results
        text = text.replace(form, names[form])
    return text


def app_auth() -> list[tuple[str, str]] | None:
    """Logins for a private demo from $LLM_JUDGE_AUTH ("user:password", comma-separated) or the file named by
    $LLM_JUDGE_AUTH_FILE (one user:password per line), for Gradio's login page; None when neither is set."""
    text = os.environ.get("LLM_JUDGE_AUTH", "")
    source = "$LLM_JUDGE_AUTH"
    if os.environ.get("LLM_JUDGE_AUTH_FILE"):
        source = os.environ["LLM_JUDGE_AUTH_FILE"]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserFacingError(f"cannot read the logins file {source}: {exc.__class__.__name__}") from exc
    entries = [e.strip() for e in re.split(r"[,\n]", text) if e.strip()]
    pairs = [tuple(e.split(":", 1)) for e in entries]
    if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        # Never echo the entries: they hold passwords.
        raise UserFacingError(f"{source}: every login must be user:password (comma-separated or one per line)")
    return pairs or None
