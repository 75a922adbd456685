"""A suite's results as people and CI systems read them: a pytest-like text report and JUnit XML.

The XML follows the common JUnit schema (testsuites > testsuite > testcase, a failed case carrying one <failure>
with a message and the details as its text), which GitHub Actions reporters, GitLab and Jenkins all read.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from basics import UserFacingError, write_atomic
from evals.modes import SampleResult
from evals.runner import CaseResult, SuiteResult

# XML 1.0 cannot hold most control characters (a model's answer may have a NUL or a terminal colour code): a file
# holding one is not XML, and a CI system would drop the whole report. They become U+FFFD in the XML only.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
WIDTH = 88
ANSWER_SHOWN = 600  # characters of a failing answer in the report; the run folder keeps it whole


def rule(title: str = "", fill: str = "=") -> str:
    return f" {title} ".center(WIDTH, fill) if title else fill * WIDTH


def case_line(result: CaseResult) -> str:
    case = result.case
    low_high = result.interval
    spread = f", 95% CI {low_high[0]:.0%}-{low_high[1]:.0%}" if low_high and case.samples > 1 else ""
    rate = (f" ({result.n_passed}/{len(result.samples)} samples passed, {case.needed} needed{spread})"
            if case.samples > 1 else "")
    return f"{'PASSED' if result.passed else 'FAILED'} {case.id}{rate}"


def failure_text(result: CaseResult) -> str:
    """What failed in a case: each failing sample's answer, the modes it failed and why, and the judge's reasons."""
    lines = []
    if len(result.samples) < result.case.samples:
        lines.append(f"only {len(result.samples)} of {result.case.samples} samples were made")
    for sample in result.samples:
        if sample.passed:
            continue
        lines += sample_failure(sample, result.case.samples)
    return "\n".join(lines)


def sample_failure(sample: SampleResult, samples: int) -> list[str]:
    answer = sample.answer if len(sample.answer) <= ANSWER_SHOWN else sample.answer[:ANSWER_SHOWN] + " [...]"
    lines = [f"sample {sample.number} of {samples}" + (f" (run {sample.run_dir})" if sample.run_dir else ""),
             "answer:", *("    " + line for line in (answer or "(empty)").splitlines())]
    lines += [f"  FAILED {m.description}: {m.reason or 'no'}" for m in sample.modes if not m.passed]
    lines.append("judge's reasons: " + (sample.reasons or "(the judge wrote none)"))
    return lines


def text_report(result: SuiteResult) -> str:
    """The report printed at the end of `python -m judge test`, laid out as pytest's."""
    suite, config = result.suite, result.config
    judge = " | ".join(config.judges)
    lines = [rule(f"suite {suite.name}: {len(suite.cases)} case{'' if len(suite.cases) == 1 else 's'}"),
             f"model {config.model}" + (f", baseline {config.baseline}" if config.baseline else "")
             + f", judge {judge}", ""]
    for case in result.cases:
        lines.append(case_line(case))
        for name, passed, total in case.mode_counts():
            lines.append(f"    {'ok  ' if passed == total else 'FAIL'} {name}: {passed}/{total}")
    if result.failed:
        lines += ["", rule("FAILURES")]
        for case in result.failed:
            lines += [rule(case.case.id, "_"), f"prompt: {case.case.prompt}", failure_text(case)]
    passed, failed = len(result.cases) - len(result.failed), len(result.failed)
    counts = ", ".join(part for part in (f"{failed} failed" if failed else "", f"{passed} passed" if passed else "")
                       if part)
    lines += ["", *(f"run folder: {folder}" for folder in result.run_dirs), rule(f"{counts} in {result.seconds:.1f}s")]
    return "\n".join(lines)


def junit_xml(result: SuiteResult) -> ET.ElementTree:
    suite = result.suite
    root = ET.Element("testsuites", name=suite.name, tests=str(len(result.cases)),
                      failures=str(len(result.failed)), errors="0", time=f"{result.seconds:.3f}")
    element = ET.SubElement(root, "testsuite", name=suite.name, tests=str(len(result.cases)),
                            failures=str(len(result.failed)), errors="0", skipped="0", time=f"{result.seconds:.3f}")
    properties = ET.SubElement(element, "properties")
    for name, value in (("model", result.config.model), ("baseline", result.config.baseline or ""),
                        ("judge", " | ".join(result.config.judges)),
                        ("run_dirs", " ".join(str(d) for d in result.run_dirs))):
        ET.SubElement(properties, "property", name=name, value=value)
    per_case = result.seconds / len(result.cases) if result.cases else 0.0  # runs are per round, not per case
    for case in result.cases:
        testcase = ET.SubElement(element, "testcase", classname=f"evals.{suite.name}", name=case.case.id,
                                 time=f"{per_case:.3f}")
        if not case.passed:
            failing = sorted({m.description for s in case.samples for m in s.modes if not m.passed})
            message = f"{case.n_passed}/{case.case.samples} samples passed, {case.case.needed} needed"
            if failing:
                message += "; failed: " + "; ".join(failing)
            failure = ET.SubElement(testcase, "failure", message=message, type="EvalFailure")
            failure.text = f"prompt: {case.case.prompt}\n{failure_text(case)}"
    for node in root.iter():
        node.text = NOT_XML.sub("\ufffd", node.text) if node.text else node.text
        node.attrib = {k: NOT_XML.sub("\ufffd", v) for k, v in node.attrib.items()}
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: SuiteResult, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, lambda f: junit_xml(result).write(f, encoding="utf-8", xml_declaration=True))
    except OSError as exc:
        raise UserFacingError(f"cannot write the JUnit file {path} ({exc.strerror or exc}): pick a writable path "
                              "for --junit") from exc
