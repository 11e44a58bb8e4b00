"""`kgtool check`: build, coverage, lint, reasoner consistency and SHACL validation in one run."""
from __future__ import annotations

from dataclasses import dataclass

from .build import build
from .config import Project
from .coverage import coverage
from .errors import KgtoolError
from .lint import DEFAULT_CONFIG, Level, lint, load_lint_config
from .reason import Reasoner, reason
from .store import new_graph
from .validate import Severity, load_shapes, validate


@dataclass(frozen=True)
class StepResult:
    """How one step of the check went: exit code 0 ok, 1 a finding, 3 bad input, 4 a component failed."""

    name: str
    exit_code: int
    summary: str

    @property
    def status(self) -> str:
        return {0: "ok", 1: "FINDING"}.get(self.exit_code, "ERROR")


def run_check(project: Project, *, reasoner: Reasoner = Reasoner.HERMIT,
              allow_warnings: bool = False) -> tuple[StepResult, ...]:
    """Run every step that can run; a failed build stops the rest, other failures do not."""
    try:
        result = build(project)
    except KgtoolError as error:
        return (StepResult("build", error.exit_code, error.render()),)
    graph = result.graph
    steps = [StepResult("build", 0, f"{len(graph)} triples from {len(result.sources.documents)} documents")]

    report = coverage(result)
    missing = len(report.missing_numbers)
    steps.append(StepResult("coverage", 1 if missing else 0,
                            f"{len(report.numbers)} numbers, {missing} neither captured nor waived"))

    try:
        shapes = load_shapes([project.shapes])
    except KgtoolError as error:
        steps.append(StepResult("validate", error.exit_code, error.render()))
        shapes = None

    try:
        config = load_lint_config(project.lint_config) if project.lint_config.exists() else DEFAULT_CONFIG
        linted = lint(result.sources.ontology.graph, graph, shapes if shapes is not None else new_graph(), config)
        steps.append(StepResult("lint", 1 if linted.fails() else 0,
                                ", ".join(f"{linted.count(level)} {level.value}" for level in Level)))
    except KgtoolError as error:
        steps.append(StepResult("lint", error.exit_code, error.render()))

    try:
        reasoned = reason(graph, reasoner=reasoner)
        summary = "consistent" if reasoned.ok else (
            "INCONSISTENT" if not reasoned.consistent else f"{len(reasoned.unsatisfiable)} unsatisfiable classes")
        steps.append(StepResult("reason", 0 if reasoned.ok else 1, f"{reasoner.value}: {summary}"))
    except KgtoolError as error:
        steps.append(StepResult("reason", error.exit_code, error.render()))

    if shapes is not None:
        validated = validate(graph, shapes)
        counts = ", ".join(f"{validated.count(s)} {s.value.lower()}" for s in Severity)
        steps.append(StepResult("validate", 1 if validated.fails(allow_warnings=allow_warnings) else 0, counts))
    return tuple(steps)


def overall_exit_code(steps: tuple[StepResult, ...]) -> int:
    """The worst step decides: an error (3 or 4) outranks a finding (1)."""
    codes = [s.exit_code for s in steps]
    return max((c for c in codes if c != 1), default=0) or (1 if 1 in codes else 0)
