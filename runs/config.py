"""CompareConfig: everything that defines a comparison run, built by the CLI and the app alike, and the defaults."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields

from analysis.margins import DEFAULT_TIE_BAND, check_band
from basics import adapters_dir, results_dir
from finetune.config import DEMO_STEPS
from judge.judging import HEAD, METHODS, PARSED, PROBABILITIES
from judge.templates import JudgeTemplate, TemplateError, default_template, load_template, parse_template
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, PRESETS, SamplingSettings, SettingsError, parse_model_spec
from models.adapter_files import adapter_folders_in, check_peft_adapter
from models.embedded import DEFAULT_MODEL, F32_GGUF_SUFFIX, GGUF_SUFFIX
from models.errors import ModelSpecError
from models.settings import preset_settings
from models.spec import adapter_spec, gguf_twin_spec
from runs.system_prompts import checked_system_prompt

MODES = ("single", "pairwise")
JUDGE_METHODS = ("auto", *METHODS)
# auto = read the judge's token probabilities where its backend can (benchmarks/judge_methods.py measures why).
DEFAULT_JUDGE_METHOD = "auto"
# The shipped scoring judge (adapters/shipped/, recipes/default_judge.py): measured far above the embedded model as a
# writing judge on clear good-vs-degraded pairs, and it cannot prefer a position. It writes no reasons: for reasons,
# pick a writing judge (GENERATIVE_JUDGE, on llama.cpp: ~9x faster than transformers on CPU for long judge prompts).
DEFAULT_JUDGE = "smollm2-135m-judge"
GENERATIVE_JUDGE = DEFAULT_MODEL + GGUF_SUFFIX
# The default pair: the embedded model computed in float32 (transformers' answers, on llama.cpp: 1.4x faster batched,
# 2x single stream) against the shipped 4-bit file on llama.cpp, whose products run on 8-bit activations.
DEFAULT_MODEL_A = DEFAULT_MODEL + F32_GGUF_SUFFIX
DEFAULT_MODEL_B = DEFAULT_MODEL + GGUF_SUFFIX
# The pair the seed Space compares: Llama-3.2-3B-Instruct fine-tuned with Unsloth for 2,000 and 6,150 steps,
# published as float16 GGUF files; by hub id they load on llama.cpp (models/hub_repos.py).
SEED_SPACE_PAIR = ("forestav/LoRA-2000", "KolumbusLindh/LoRA-6150")
BATCH_SIZE = 16  # prompts per batched generation in prompt-set runs: the ten study prompts in one (study_speed.py)
ENDPOINT_CONCURRENCY = 8  # prompts in flight by default when a served model takes part (benchmarks/endpoint_throughput)
# A prompt longer than a model's context window (with room for the answer) is refused before any generation, or cut
# to fit with a notice on its record: the person running it chooses.
LONG_PROMPTS = ("refuse", "truncate")
DEFAULT_LONG_PROMPTS = "refuse"


@dataclass
class CompareConfig:
    """Everything that defines a comparison; the CLI and the app both build one of these."""

    model_a: str = DEFAULT_MODEL_A
    model_b: str = DEFAULT_MODEL_B
    judge: str = DEFAULT_JUDGE
    more_judges: list[str] = field(default_factory=list)  # with `judge`, a panel: majority verdict / mean scores
    mode: str = "single"  # "single": each answer graded alone; "pairwise": both shown, verdict A/B/tie
    preset: str | None = DEFAULT_PRESET  # the name of the preset the sampling came from, or None if customised
    sampling: SamplingSettings = field(default_factory=lambda: PRESETS[DEFAULT_PRESET])
    more_presets: list[str] = field(default_factory=list)  # also answer every prompt with these (p1 vs p2 study)
    judge_sampling: SamplingSettings = field(default_factory=lambda: DEFAULT_JUDGE_SETTINGS)
    template: str | None = None  # a template name in prompts/ or a YAML path; None = the mode's default
    template_text: str | None = None  # an edited template (YAML) from the UI; wins over `template`
    swap: bool = True  # pairwise: also judge with the answers swapped, to cancel position bias
    constrain_judge: bool = True  # hold grammar-capable judges to the template's output format
    judge_method: str = DEFAULT_JUDGE_METHOD  # "probabilities", "parsed", or "auto": probabilities where the judge can
    judge_reasons: bool = False  # probabilities method: also ask the judge for reasons, after its scores are fixed
    # The band of no difference (analysis/margins.py): a favourite with P(A better) within 0.5 +/- tie_band, or parsed
    # totals less than one scale step apart, is "too close to call" and counts as a tie; 0 = any lead wins.
    tie_band: float = DEFAULT_TIE_BAND
    concurrency: int = 0  # prompts in flight at once; 0 = auto: ENDPOINT_CONCURRENCY where a served model takes part
    judge_cache: bool = True  # answer identical judge calls from the on-disk cache (runs/judge_cache.py)
    prices: str | None = None  # a price table YAML (runs/costs.py); None = prompts/prices.yaml
    long_prompts: str = DEFAULT_LONG_PROMPTS  # "refuse" or "truncate" a prompt longer than a model's context window
    # Sent to Model A / B before each prompt (the same text in both = shared); None = none: the model's chat template
    # decides, or a fine-tune gets the one it was trained with. A prompt set item's own `system` wins for that item.
    system_a: str | None = None
    system_b: str | None = None
    out_dir: str = field(default_factory=lambda: str(results_dir()))

    @property
    def judges(self) -> list[str]:
        return [self.judge, *self.more_judges]

    @property
    def judge_label(self) -> str:
        """The judge as records and run lists name it: its spec, or the panel's specs joined."""
        return " | ".join(self.judges)

    def resolved_concurrency(self) -> int:
        """`concurrency`, or for auto: several prompts in flight where a served model takes part, else one (local
        models answer one request at a time; prompt sets are batched on transformers instead)."""
        if self.concurrency:
            return self.concurrency
        served = any(parse_model_spec(s).backend == "openai" for s in (self.model_a, self.model_b, *self.judges))
        return ENDPOINT_CONCURRENCY if served else 1

    def resolve_template(self) -> JudgeTemplate:
        if self.template_text and self.template_text.strip():
            template = parse_template(self.template_text, source="edited template")
        elif self.template:
            template = load_template(self.template)
        else:
            template = default_template(self.mode)
        if template.mode != self.mode:
            raise TemplateError(
                f"template {template.name!r} is a {template.mode} template but the mode is {self.mode}: "
                f"pick a {self.mode} template or switch the mode"
            )
        return template

    def validate(self) -> JudgeTemplate:
        """Check specs, presets and the template before any model loads; return the template to use."""
        if self.mode not in MODES:
            raise TemplateError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.judge_method not in JUDGE_METHODS:
            raise SettingsError(f"judge method must be one of {', '.join(JUDGE_METHODS)}, got {self.judge_method!r}")
        if self.long_prompts not in LONG_PROMPTS:
            raise SettingsError(f"long prompts must be {' or '.join(LONG_PROMPTS)}, got {self.long_prompts!r}")
        for spec in (self.model_a, self.model_b, *self.judges):
            checked_spec(spec)
        self.system_a = checked_system_prompt(self.system_a, "the system prompt for model A")
        self.system_b = checked_system_prompt(self.system_b, "the system prompt for model B")
        if len(set(self.judges)) != len(self.judges):
            raise SettingsError(f"a judge appears twice on the panel ({self.judge_label}): name each judge once")
        try:
            self.tie_band = check_band(self.tie_band)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        if not 0 <= self.concurrency <= 64:
            raise SettingsError(f"concurrency must be 0 (auto) to 64, got {self.concurrency}")
        self.sampling_plan()
        return self.resolve_template()

    def sampling_plan(self) -> list[tuple[str, SamplingSettings]]:
        """(label, settings) for each sampling setting in the run; extra presets keep the length and seed."""
        plan = [(self.preset or "custom", self.sampling)]
        for name in self.more_presets:
            settings = preset_settings(name, max_new_tokens=self.sampling.max_new_tokens, seed=self.sampling.seed)
            plan.append((name, settings))
        labels = [label for label, _ in plan]
        if len(set(labels)) != len(labels):
            raise SettingsError(f"each preset may appear once in a run, got {', '.join(labels)}")
        return plan

    @classmethod
    def from_dict(cls, data: dict) -> CompareConfig:
        data = dict(data)
        data["sampling"] = SamplingSettings(**data["sampling"])
        data["judge_sampling"] = SamplingSettings(**data["judge_sampling"])
        known = {f.name for f in dataclass_fields(cls)}
        data.setdefault("tie_band", 0.0)  # a run from before the band called every lead a win: a resume goes on so
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("template_text")  # the manifest stores the resolved template itself
        return data


def checked_spec(text: str):
    """parse_model_spec, with a local PEFT adapter's files checked too (models/adapter_files.py): a damaged adapter is
    refused here, before any model loads, instead of failing inside PEFT."""
    try:
        spec = parse_model_spec(text)
    except (ValueError, OSError, RecursionError) as exc:  # spec parsing reads an adapter's JSON to check its base
        for folder in adapter_folders_in(text):
            check_peft_adapter(folder)  # names the damaged file
        raise ModelSpecError(f"model {text!r} cannot be read ({type(exc).__name__}: {exc}): check the files it "
                             "names") from exc
    if spec.adapter_kind == "local":
        check_peft_adapter(spec.adapter)
    return spec


def resolve_method(method: str, judge) -> str:
    """The method a judge backend will use: 'auto' reads probabilities where the backend declares it can; a scoring
    judge has one way only (its head)."""
    if judge.capabilities.answer_scores:
        return HEAD
    if method != "auto":
        return method
    readable = judge.capabilities.token_probabilities or judge.capabilities.reply_probabilities
    return PROBABILITIES if readable else PARSED


def default_model_pair() -> tuple[str, str]:
    """The app's default Model A / B: the two demo checkpoints when both exist (their GGUF twins on llama.cpp's
    float32 base when both have one: the PEFT answers, 143 against 111 tok/s batched on the study prompts), else
    DEFAULT_MODEL_A / _B."""
    folders = [adapters_dir() / "demo" / f"step-{step}" for step in DEMO_STEPS[:2]]
    if all((folder / "adapter_config.json").is_file() for folder in folders):
        twins = [gguf_twin_spec(folder) for folder in folders]
        if all(twins):
            return twins[0], twins[1]
        return adapter_spec(folders[0]), adapter_spec(folders[1])
    return DEFAULT_MODEL_A, DEFAULT_MODEL_B
