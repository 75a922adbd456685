"""How far the default judge's head can follow people before it stops catching broken answers: a wider grid of
recipes than recipes/default_judge.py tries (more weight on PandaLM's human pairs, less pull toward "no preference",
freer hidden-layer columns), each fit on three quarters of the training prompts and measured on the dev quarter
(human pairs and degraded pairs, with "the longer answer wins" on the same rows), then the recipe with the best dev
human agreement among those that keep >= --min-degraded on dev degraded pairs fit on all training prompts and
measured once on the held-out split. A measurement, never a pass/fail.

Then (always; --skip-grid skips the recipes above) a "hurdle" model, under "hurdle" in the report:
- human-only heads: an "overall" head fit on the human pairs alone (strength 50, three hidden strengths), measured on
  the held-out human and degraded pairs: what people's verdicts alone teach;
- the hurdle: score(x) = x @ H + K * log_sigmoid(c(x)), H the human-only head (hidden strength 5e-3), c a balanced
  logistic regression on standardized features (the reading signals only, or every column) telling fine answers
  (both answers of every human pair, the preferred answers of degraded pairs) from degraded ones: people's
  preference among answers that clear a "not broken" hurdle. Each setting (columns, C, K) fit on the dev split's fit
  part and measured on its dev quarter, and fit on all training prompts and measured on the held-out split; the one
  with the best dev human agreement among those keeping >= --min-degraded on dev degraded pairs is "chosen";
- "the longer answer wins" on the train and held-out human pairs with a 95% interval that resamples prompts (pairs
  of one prompt are not independent): how kind each split is to length.

Data as recipes/default_judge.py (PandaLM human pairs, Apache-2.0, split by prompt; the project's degradations).
Features come from the recipe's cache (results/.cache/features): run the recipe first, or this reads them.

Usage: python benchmarks/judge_human_frontier.py [--features 3] [--min-degraded 0.95] [--skip-grid]
       [--out results/benchmarks/...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recipes"))

from default_judge import features_of, longer_wins, pandalm_parts  # noqa: E402

from analysis.stats import percentile_bounds  # noqa: E402
from basics import results_dir  # noqa: E402
from finetune.head_training import HeadRecipe, fit_criterion_heads  # noqa: E402
from lab.distill import agreement, head_verdicts, is_held_out  # noqa: E402
from models.reward_head import SIGNALS  # noqa: E402

GRID = [HeadRecipe(strength=50.0, hidden_strength=hidden, tie_strength=tie, human_weight=weight)
        for hidden in (5e-7, 5e-4, 5e-3) for tie in (0.0, 0.2) for weight in (0.3, 1.0, 3.0, 10.0)]
HUMAN_ONLY = [HeadRecipe(strength=50.0, hidden_strength=hidden) for hidden in (5e-7, 5e-5, 5e-3)]
HURDLE_HEAD = HeadRecipe(strength=50.0, hidden_strength=5e-3)  # H: the human-only head under the hurdle
# The hurdle's settings: the classifier's columns ("signals": the reading signals, the features' last columns), its
# inverse penalty C, and K, the weight of its log-probability that an answer is fine.
HURDLE_COLUMNS, HURDLE_C, HURDLE_K = ("signals", "all"), (0.01, 0.1, 1.0), (10, 30, 100)


def dev_split(rows: list[dict], features) -> tuple[tuple, tuple]:
    """(fit rows and features, dev rows and features): the dev quarter is the recipe's (recipes/default_judge.py)."""
    dev = np.array([is_held_out(r["prompt"] + "#dev", 0.25) for r in rows], dtype=bool)
    kept = np.array(rows, dtype=object)
    a, b = features
    return (list(kept[~dev]), (a[~dev], b[~dev])), (list(kept[dev]), (a[dev], b[dev]))


def measured(rows, verdicts) -> dict:
    found = agreement(rows, verdicts)
    return {k: found[k] for k in ("n", "agreement", "agreement_ci", "longer_wins_same_rows",
                                  "length_balanced_agreement", "length_balanced_n")}


def longer_wins_by_prompt(rows: list[dict], resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """"The longer answer wins" (ties in the labels count 1/2, as recipes/default_judge.longer_wins) with a
    percentile-bootstrap interval that resamples prompts, each with all its pairs: a pair is not independent of
    the other pairs of its prompt."""
    prompts = sorted({r["prompt"] for r in rows})
    index = {p: i for i, p in enumerate(prompts)}
    credit, count = np.zeros(len(prompts)), np.zeros(len(prompts))
    for row in rows:
        credit[index[row["prompt"]]] += longer_wins([row])
        count[index[row["prompt"]]] += 1
    drawn = np.random.default_rng(seed).integers(0, len(prompts), size=(resamples, len(prompts)))
    low, high = percentile_bounds(credit[drawn].sum(axis=1) / count[drawn].sum(axis=1), level)
    return {"agreement": round(float(credit.sum() / count.sum()), 4), "ci": [round(low, 4), round(high, 4)],
            "prompts": len(prompts), "n": len(rows)}


def fine_or_broken(parts: list[tuple[list[dict], tuple]]) -> tuple[np.ndarray, np.ndarray]:
    """Answers as (features, 1 fine / 0 broken): both answers of a human pair are fine; of a degraded pair (it has
    a criterion) the preferred one is fine and its degraded twin broken."""
    answers, fine = [], []
    for rows, (features_a, features_b) in parts:
        for i, row in enumerate(rows):
            if row.get("criterion") is None:
                answers += [features_a[i], features_b[i]]
                fine += [1, 1]
            elif row["label"] in ("A", "B"):
                good, bad = (features_a[i], features_b[i]) if row["label"] == "A" else (features_b[i], features_a[i])
                answers += [good, bad]
                fine += [1, 0]
    return np.stack(answers), np.array(fine)


class Hurdle:
    """score(x) = x @ H + K * log_sigmoid(c(x)): the human-only head's score (H, fit on the human pairs of `parts`),
    minus a steep price for an answer the fine-or-broken classifier c (fit on all their answers, reading `columns`)
    doubts. The verdict is "A" when A's score is higher, else "B"."""

    def __init__(self, parts: list[tuple[list[dict], tuple]], columns: str, strength: float):
        from sklearn.linear_model import LogisticRegression

        human = [part for part in parts if all(r.get("criterion") is None for r in part[0])]
        self.head = fit_criterion_heads(human, HURDLE_HEAD, criteria=("overall",)).weights["overall"]
        answers, fine = fine_or_broken(parts)
        self.columns = slice(-len(SIGNALS), None) if columns == "signals" else slice(None)
        x = answers[:, self.columns]
        self.mean, std = x.mean(axis=0), x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        self.classifier = LogisticRegression(C=strength, class_weight="balanced", max_iter=3000).fit(
            (x - self.mean) / self.std, fine)

    def scores(self, features: np.ndarray, k: float) -> np.ndarray:
        from scipy.special import log_expit

        fine_logit = self.classifier.decision_function((features[:, self.columns] - self.mean) / self.std)
        return features @ self.head + k * log_expit(fine_logit)

    def verdicts(self, features, k: float) -> list[str]:
        a, b = (self.scores(f, k) for f in features)
        return ["A" if x > y else "B" for x, y in zip(a, b)]


def recipe_grid(parts, features, fit, dev, min_degraded: float) -> dict:
    """GRID on the dev split, and the chosen recipe on the held-out split."""
    (fit_h, fit_d), (dev_h, dev_d) = fit, dev
    tried = []
    for recipe in GRID:
        head = fit_criterion_heads([fit_h, fit_d], recipe)
        human, degraded = (measured(rows, head_verdicts(head, f)) for rows, f in (dev_h, dev_d))
        tried.append({"recipe": asdict(recipe), "dev_human": human, "dev_degraded": degraded})
        print(f"{recipe}: dev human {human['agreement']:.3f} (longer wins {human['longer_wins_same_rows']:.3f}), "
              f"dev degraded {degraded['agreement']:.3f}", flush=True)
    keeping = [t for t in tried if t["dev_degraded"]["agreement"] >= min_degraded]
    report = {"tried": tried}
    if not keeping:
        print(f"no recipe kept {min_degraded} on dev degraded pairs")
        return report
    best = max(keeping, key=lambda t: t["dev_human"]["agreement"])
    recipe = HeadRecipe(**best["recipe"])
    head = fit_criterion_heads([(parts["train"], features["train"]),
                                (parts["train_degraded"], features["train_degraded"])], recipe)
    human, degraded = (measured(parts[k], head_verdicts(head, features[k])) for k in ("test", "test_degraded"))
    report["chosen"] = {"recipe": best["recipe"], "held_out_human": human, "held_out_degraded": degraded}
    print(f"chosen {recipe}: {held_out_line(human, degraded)}")
    return report


def interval(bounds) -> str:
    return "[-]" if bounds is None else f"[{bounds[0]:.3f}-{bounds[1]:.3f}]"


def held_out_line(human: dict, degraded: dict) -> str:
    return (f"held-out human {human['agreement']:.3f} {interval(human['agreement_ci'])} against longer wins "
            f"{human['longer_wins_same_rows']:.3f}; held-out degraded {degraded['agreement']:.3f} "
            f"{interval(degraded['agreement_ci'])}")


def human_only_heads(parts, features) -> list[dict]:
    """"overall" heads fit on the training human pairs alone, measured on the held-out human and degraded pairs."""
    found = []
    for recipe in HUMAN_ONLY:
        head = fit_criterion_heads([(parts["train"], features["train"])], recipe, criteria=("overall",))
        human, degraded = (measured(parts[k], head_verdicts(head, features[k])) for k in ("test", "test_degraded"))
        found.append({"recipe": asdict(recipe), "held_out_human": human, "held_out_degraded": degraded})
        print(f"human-only head, hidden strength {recipe.hidden_strength:g}: {held_out_line(human, degraded)}",
              flush=True)
    return found


def hurdle_settings(parts, features, fit, dev) -> list[dict]:
    """Each hurdle setting fit on the dev split's fit part (measured on its dev quarter) and on all training parts
    (measured on the held-out split)."""
    train = [(parts[k], features[k]) for k in ("train", "train_degraded")]
    measured_on = {"dev_human": dev[0], "dev_degraded": dev[1], "held_out_human": (parts["test"], features["test"]),
                   "held_out_degraded": (parts["test_degraded"], features["test_degraded"])}
    settings = []
    for columns in HURDLE_COLUMNS:
        for strength in HURDLE_C:
            on_dev, on_all = Hurdle(list(fit), columns, strength), Hurdle(train, columns, strength)
            for k in HURDLE_K:
                found = {"columns": columns, "C": strength, "K": k}
                for name, (rows, f) in measured_on.items():
                    found[name] = measured(rows, (on_dev if name.startswith("dev") else on_all).verdicts(f, k))
                settings.append(found)
                print(f"hurdle {columns} C {strength:g} K {k}: dev human {found['dev_human']['agreement']:.3f}, dev "
                      f"degraded {found['dev_degraded']['agreement']:.3f}; "
                      f"{held_out_line(found['held_out_human'], found['held_out_degraded'])}", flush=True)
    return settings


def hurdle(parts, features, fit, dev, min_degraded: float) -> dict:
    """The human-only heads, the hurdle settings and the one chosen on dev, and the length baseline by prompt."""
    report = {"head": asdict(HURDLE_HEAD), "human_only": human_only_heads(parts, features),
              "settings": hurdle_settings(parts, features, fit, dev)}
    keeping = [s for s in report["settings"] if s["dev_degraded"]["agreement"] >= min_degraded]
    if keeping:
        best = report["chosen"] = max(keeping, key=lambda s: s["dev_human"]["agreement"])
        print(f"hurdle chosen {best['columns']} C {best['C']:g} K {best['K']} (dev human "
              f"{best['dev_human']['agreement']:.3f}, dev degraded {best['dev_degraded']['agreement']:.3f}): "
              f"{held_out_line(best['held_out_human'], best['held_out_degraded'])}")
    else:
        print(f"no hurdle setting kept {min_degraded} on dev degraded pairs")
    report["longer_wins_by_prompt"] = {k: longer_wins_by_prompt(parts[k]) for k in ("train", "test")}
    for name, k in (("train", "train"), ("held-out", "test")):
        found = report["longer_wins_by_prompt"][k]
        print(f"longer wins, {name} human pairs: {found['agreement']:.3f} {interval(found['ci'])} over "
              f"{found['prompts']} prompts (interval resamples prompts)")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, choices=(2, 3), default=3)
    parser.add_argument("--min-degraded", type=float, default=0.95, help="dev degraded agreement a recipe must keep")
    parser.add_argument("--skip-grid", action="store_true", help=f"skip the {len(GRID)} recipes: the hurdle only")
    parser.add_argument("--out", default=str(results_dir() / "benchmarks" / "judge_human_frontier.json"))
    args = parser.parse_args()

    parts = pandalm_parts()
    started = time.perf_counter()
    features = features_of(parts, args.features)
    print(f"features read in {time.perf_counter() - started:.0f} s", flush=True)
    (fit_h, dev_h), (fit_d, dev_d) = (dev_split(parts[k], features[k]) for k in ("train", "train_degraded"))
    report = {"features": args.features, "min_degraded": args.min_degraded}
    if not args.skip_grid:
        report.update(recipe_grid(parts, features, (fit_h, fit_d), (dev_h, dev_d), args.min_degraded))
    report["hurdle"] = hurdle(parts, features, (fit_h, fit_d), (dev_h, dev_d), args.min_degraded)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
