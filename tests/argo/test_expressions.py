"""The expression forms Argo accepts, each with the value Argo gives it, against workflows.argo.expressions.

Every expected value below was read from Argo's own sources (argoproj/argo-workflows and the two libraries
it evaluates with), not guessed; each case names where it comes from:

- ``when``: ``workflow/controller/steps.go`` ``shouldExecute`` (and the DAG's ``ShouldExecute``): the
  already-substituted text is parsed by govaluate, every VARIABLE token is turned into a STRING ("so that
  ``foo != bar`` needs no quotes"), and the result must be a bool. Semantics per govaluate's MANUAL.md:
  numbers are float64, ``> >= < <=`` compare two numbers or two strings (lexicographically) and never one
  of each, ``==`` is ``reflect.DeepEqual`` (no conversion), ``&& || !`` take bools only.
  Examples: ``docs/walk-through/conditionals.md``, ``test/e2e/functional/conditionals.yaml``.
- ``depends``: ``docs/enhanced-depends-logic.md``; ``workflow/common/ancestry.go`` (a bare ``A`` is expanded
  to ``(A.Succeeded || A.Skipped || A.Daemoned)``, plus ``|| A.Errored``/``|| A.Failed`` for continueOn;
  ``dependencies: [A, B]`` is ``A && B``); ``workflow/controller/dag.go`` ``evaluateDependsLogic`` (the
  task results from the node phase, evaluated by expr-lang); ``examples/dag-enhanced-depends.yaml``.
- retry ``expression``: ``docs/retries.md`` (Conditional retries), ``docs/variables.md`` (the ``lastRetry``
  variables "evaluate to a string type"), ``workflow/controller/operator.go`` (``buildRetryStrategyLocalScope``
  puts strings in the scope, ``argoexpr.EvalBool`` evaluates with expr-lang), ``examples/retry-conditional.yaml``.
- ``{{=...}}`` tags: ``docs/variables.md`` (Expression), ``util/template/expression_template.go`` (the result
  is written with ``%v``), ``util/expr/env/env.go`` (``asInt`` = expr-lang ``int``, ``asFloat`` = ``float``,
  ``sprig``, ``jsonpath``, ``toJson``). expr-lang: ``builtin/lib.go`` (``Int``: a string goes through
  ``strconv.Atoi``), ``vm/runtime`` (``Equal`` of different types is false; ``Less``/``More`` of a string and
  a number panic; ``In`` needs an array), ``docs/language-definition.md``.

Forms Argo accepts that our evaluator refuses are asserted to raise ExpressionError naming the form.
Where the executor (workflows/local/: substitution, dag, executor) meets expressions is checked at the end.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.dag import depends_met
from workflows.local.executor import LocalRun
from workflows.local.record import Attempt
from workflows.local.substitution import substitute
from workflows.pipelines.compile import MANIFESTS_DIR

CONDITIONALS = "docs/walk-through/conditionals.md"
STEPS_GO = "workflow/controller/steps.go shouldExecute: VARIABLE tokens become STRING"
GOVALUATE = "govaluate MANUAL.md"
CONDITIONALS_YAML = "test/e2e/functional/conditionals.yaml"
DEPENDS_DOC = "docs/enhanced-depends-logic.md"
ANCESTRY = "workflow/common/ancestry.go expandDependency"
DAG_GO = "workflow/controller/dag.go evaluateDependsLogic"
DAG_EXAMPLE = "examples/dag-enhanced-depends.yaml (+ e2e TestDAGDepends)"
RETRIES = "docs/retries.md Conditional retries"
VARIABLES = "docs/variables.md"
RETRY_EXAMPLE = "examples/retry-conditional.yaml"
EXPR_RUNTIME = "expr-lang vm/runtime (Equal/Less/More/In)"
EXPR_LIB = "expr-lang builtin/lib.go Int/Float"
EXPR_LANG = "expr-lang docs/language-definition.md"
TAG_TEMPLATE = "util/template/expression_template.go"


def manifest(name: str) -> dict:
    return yaml.safe_load((MANIFESTS_DIR / f"{name}.yaml").read_text())


def when(text: str, scope: dict[str, str] | None = None) -> Any:
    """A task's ``when`` as LocalRun.ready evaluates it: ``{{...}}`` substituted, then bare words are strings."""
    return evaluate(substitute(text, scope or {}), {}.__getitem__, bare_words_are_strings=True)


def depends(
    phases: dict[str, str],
    expression: str | None = None,
    dependencies: list[str] | None = None,
    continue_on: dict[str, dict] | None = None,
) -> bool:
    """workflows.local.dag.depends_met for a task whose dependencies finished in ``phases`` (Argo node phases)."""
    tasks = {
        name: {"name": name, "template": "t", "continueOn": (continue_on or {}).get(name)} for name in phases
    }
    nodes = {name: SimpleNamespace(phase=phase, children=[]) for name, phase in phases.items()}
    task = {"name": "next", "depends": expression, "dependencies": dependencies}
    return depends_met(SimpleNamespace(record=SimpleNamespace(nodes=nodes)), task, tasks)


def retry(
    expression: str,
    exit_code: int | None = 1,
    phase: str = "Failed",
    message: str = "",
    duration: float = 3.0,
    policy: str | None = "Always",
) -> bool:
    """LocalRun.should_retry after an attempt; ``lastRetry.*`` reach the expression as strings, as in Argo."""
    strategy = {"expression": expression} | ({"retryPolicy": policy} if policy else {})
    attempt = Attempt(
        number=1, started_at="", phase=phase, exit_code=exit_code, message=message, duration_seconds=duration
    )
    return LocalRun.should_retry(None, strategy, attempt)  # should_retry reads nothing from self


# ---- when (govaluate, after {{...}} substitution) ------------------------------------------------------

FLIP = "steps.flip-coin.outputs.result"
AGAIN = "steps.flip-again.outputs.result"
COMPLEX = (  # conditionals.md's complex-condition, as YAML's folded ">-" gives it
    f"( {{{{{FLIP}}}}} == heads && {{{{{AGAIN}}}}} == tails ) || ( {{{{{FLIP}}}}} == tails && {{{{{AGAIN}}}}} == tails )"
)

WHEN_CASES = [
    # (when as written, values substituted into it, Argo's value, source)
    (f"{{{{{FLIP}}}}} == heads", {FLIP: "heads"}, True, CONDITIONALS),
    (f"{{{{{FLIP}}}}} == heads", {FLIP: "tails"}, False, CONDITIONALS),
    (f"{{{{{FLIP}}}}} == tails", {FLIP: "tails"}, True, CONDITIONALS),
    (COMPLEX, {FLIP: "heads", AGAIN: "tails"}, True, CONDITIONALS),
    (COMPLEX, {FLIP: "tails", AGAIN: "tails"}, True, CONDITIONALS),
    (COMPLEX, {FLIP: "heads", AGAIN: "heads"}, False, CONDITIONALS),
    (COMPLEX, {FLIP: "tails", AGAIN: "heads"}, False, CONDITIONALS),
    ("heads != tails", {}, True, STEPS_GO),
    ("heads != heads", {}, False, STEPS_GO),
    ("'heads' == heads", {}, True, STEPS_GO),  # a quoted side and a bare side are both strings
    ('"heads" == heads', {}, True, STEPS_GO),  # its error hint: wrap the expression in quotes (")
    ("'a' == 'a'", {}, True, GOVALUATE),
    ("'a' == 'b'", {}, False, GOVALUATE),
    ("'{{inputs.parameters.x}}' == ''", {"inputs.parameters.x": ""}, True, GOVALUATE),
    (
        "{{inputs.parameters.should-print}} == true",
        {"inputs.parameters.should-print": "true"},
        True,
        CONDITIONALS_YAML,
    ),
    (
        "{{inputs.parameters.should-print}} == true",
        {"inputs.parameters.should-print": "false"},
        False,
        CONDITIONALS_YAML,
    ),
    ("true", {}, True, GOVALUATE),  # true/false are BOOLEAN tokens, not variables
    ("false", {}, False, GOVALUATE),
    ("5 > 3", {}, True, GOVALUATE),  # numeric comparators
    ("2.5 <= 3", {}, True, GOVALUATE),
    ("3 >= 3.0", {}, True, GOVALUATE),
    ("10 > 9", {}, True, GOVALUATE),  # two numbers compare as numbers
    (
        "{{tasks.evaluate.outputs.parameters.auc}} > 0.7",
        {"tasks.evaluate.outputs.parameters.auc": "0.83"},
        True,
        GOVALUATE,
    ),
    (
        "{{tasks.evaluate.outputs.parameters.auc}} > 0.7",
        {"tasks.evaluate.outputs.parameters.auc": "0.65"},
        False,
        GOVALUATE,
    ),
    ("5 == 5.0", {}, True, GOVALUATE),  # "no difference between the literals 1.0 and 1"
    ("'10' > '9'", {}, False, GOVALUATE),  # two strings compare lexicographically
    ("'b' > 'a'", {}, True, GOVALUATE),
    ("'5' == 5", {}, False, GOVALUATE),  # Equality is reflect.DeepEqual: a string is never a number
    ("'5' != 5", {}, True, GOVALUATE),
    ("!(heads == tails)", {}, True, GOVALUATE),  # Inversion: bool only
    ("heads == heads && tails == tails", {}, True, GOVALUATE),
    ("heads == tails || tails == tails", {}, True, GOVALUATE),
    ("heads == heads || heads == tails && heads == tails", {}, True, GOVALUATE),  # && binds tighter than ||
    ("(heads == heads || heads == tails) && heads == tails", {}, False, GOVALUATE),  # parentheses
]


@pytest.mark.parametrize(("text", "scope", "expected", "source"), WHEN_CASES)
def test_when(text, scope, expected, source):
    assert when(text, scope) is expected, source


WHEN_ERRORS = [
    # Argo fails the task on these; we must not give them a value. (expression, part of our message, source)
    ("'5' > 3", "cannot compare '5' > 3", GOVALUATE),  # comparatorTypeCheck: both numbers or both strings
    ("heads > 3", "cannot compare 'heads' > 3", GOVALUATE),
    ("heads && tails", "&& needs true or false", GOVALUATE),  # logical operators: bool only
    ("!heads", "! needs true or false", GOVALUATE),
]


@pytest.mark.parametrize(("text", "message", "source"), WHEN_ERRORS)
def test_when_that_argo_rejects_is_an_error(text, message, source):
    with pytest.raises(ExpressionError, match=message):
        when(text)


WHEN_REFUSED = [
    # govaluate accepts these; our evaluator refuses them, naming the form. (expression, named part, source)
    ("heads in ('heads', 'tails')", "('heads', 'tails')", GOVALUATE),  # Membership IN over a (..., ...) array
    ("1 + 2 == 3", "+", GOVALUATE),  # Modifiers
]


@pytest.mark.parametrize(("text", "named", "source"), WHEN_REFUSED)
def test_when_form_we_do_not_support_is_refused_by_name(text, named, source):
    with pytest.raises(ExpressionError) as refused:
        when(text, {AGAIN: "heads"})
    assert named in str(refused.value), source


@pytest.mark.parametrize(("decision", "expected"), [("promote", True), ("hold", False), ("", False)])
def test_when_of_our_training_manifest(decision, expected):
    """The project's own ``when`` (promote and deploy): quoted sides after substitution (govaluate strings)."""
    tasks = {t["name"]: t for t in manifest("training")["spec"]["templates"][-1]["dag"]["tasks"]}
    for gated in ("promote", "deploy"):
        scope = {"tasks.evaluate.outputs.parameters.decision": decision}
        assert when(tasks[gated]["when"], scope) is expected


@pytest.mark.parametrize(("drifted", "expected"), [("true", True), ("false", False)])
def test_when_of_our_drift_manifest(drifted, expected):
    """drift.yaml's ``{{...drifted}} == true``: the step writes JSON booleans, govaluate BOOLEAN tokens."""
    dag = next(t for t in manifest("drift")["spec"]["templates"] if "dag" in t)
    gated = [task for task in dag["dag"]["tasks"] if task.get("when")]
    assert gated
    for task in gated:
        assert when(task["when"], {"tasks.drift.outputs.parameters.drifted": drifted}) is expected


# ---- depends (task results, expr-lang) ---------------------------------------------------------------------

DEPENDS_CASES = [
    # (depends, phases of the tasks it names, Argo's value, source)
    ("A", {"A": "Succeeded"}, True, ANCESTRY),  # bare A = (A.Succeeded || A.Skipped || A.Daemoned)
    ("A", {"A": "Skipped"}, True, ANCESTRY),
    ("A", {"A": "Failed"}, False, ANCESTRY),
    ("A", {"A": "Error"}, False, ANCESTRY),
    ("A", {"A": "Omitted"}, False, ANCESTRY),
    ("A.Succeeded", {"A": "Succeeded"}, True, DAG_GO),
    ("A.Succeeded", {"A": "Skipped"}, False, DAG_GO),
    ("A.Failed", {"A": "Failed"}, True, DAG_GO),  # "exited with a non-0 exit code"
    ("A.Failed", {"A": "Error"}, False, DAG_GO),
    ("A.Errored", {"A": "Error"}, True, DAG_GO),  # phase Error
    ("A.Errored", {"A": "Failed"}, False, DAG_GO),
    ("A.Skipped", {"A": "Skipped"}, True, DAG_GO),  # its when evaluated false
    ("A.Omitted", {"A": "Omitted"}, True, DAG_GO),  # its depends evaluated false
    ("A.Daemoned", {"A": "Succeeded"}, False, DAG_GO),  # Daemoned only for a daemon node; none run locally
    ("A && B", {"A": "Succeeded", "B": "Skipped"}, True, DEPENDS_DOC),
    ("A && B", {"A": "Succeeded", "B": "Failed"}, False, DEPENDS_DOC),
    ("A || B", {"A": "Failed", "B": "Succeeded"}, True, DEPENDS_DOC),
    ("A || B", {"A": "Failed", "B": "Error"}, False, DEPENDS_DOC),
    ("!A.Failed", {"A": "Succeeded"}, True, DEPENDS_DOC),
    ("!A.Failed", {"A": "Failed"}, False, DEPENDS_DOC),
    ("!A", {"A": "Error"}, True, ANCESTRY),  # !(A.Succeeded || A.Skipped || A.Daemoned)
    ("task || task-2.Failed", {"task": "Failed", "task-2": "Failed"}, True, DEPENDS_DOC),
    ("task || task-2.Failed", {"task": "Failed", "task-2": "Succeeded"}, False, DEPENDS_DOC),
    ("task || task-2.Failed", {"task": "Skipped", "task-2": "Succeeded"}, True, DEPENDS_DOC),
    (
        "(task-2.Succeeded || task-2.Skipped) && !task-3.Failed",
        {"task-2": "Skipped", "task-3": "Succeeded"},
        True,
        DEPENDS_DOC,
    ),
    (
        "(task-2.Succeeded || task-2.Skipped) && !task-3.Failed",
        {"task-2": "Succeeded", "task-3": "Failed"},
        False,
        DEPENDS_DOC,
    ),
    (
        "(task-2.Succeeded || task-2.Skipped) && !task-3.Failed",
        {"task-2": "Failed", "task-3": "Succeeded"},
        False,
        DEPENDS_DOC,
    ),
    ("(A.Succeeded || A.Skipped) && B.Failed", {"A": "Skipped", "B": "Failed"}, True, DEPENDS_DOC),
    ("(A.Succeeded || A.Skipped) && B.Failed", {"A": "Skipped", "B": "Error"}, False, DEPENDS_DOC),
    # The diamond of dag-enhanced-depends.yaml: A and B pass, C fails.
    (
        "A && (C.Succeeded || C.Failed)",
        {"A": "Succeeded", "C": "Failed"},
        True,
        DAG_EXAMPLE,
    ),  # should-execute-1
    ("B || C", {"B": "Succeeded", "C": "Failed"}, True, DAG_EXAMPLE),  # should-execute-2
    ("B && C", {"B": "Succeeded", "C": "Failed"}, False, DAG_EXAMPLE),  # should-not-execute: Omitted
    (
        "should-execute-2.Succeeded || should-not-execute",
        {"should-execute-2": "Succeeded", "should-not-execute": "Omitted"},
        True,
        DAG_EXAMPLE,  # should-execute-3
    ),
]


@pytest.mark.parametrize(("expression", "phases", "expected", "source"), DEPENDS_CASES)
def test_depends(expression, phases, expected, source):
    assert depends(phases, expression) is expected, source


@pytest.mark.parametrize(
    ("phases", "expected"),
    [({"A": "Succeeded", "B": "Skipped"}, True), ({"A": "Succeeded", "B": "Failed"}, False)],
)
def test_dependencies_list_is_depends_joined_with_and(phases, expected):
    """enhanced-depends-logic.md: ``dependencies: ["A", "B", "C"]`` is ``depends: "A && B && C"``."""
    assert depends(phases, dependencies=["A", "B"]) is expected


@pytest.mark.parametrize(
    ("phase", "continue_on", "expected"),
    [
        ("Failed", {"failed": True}, True),  # expandDependency adds || A.Failed
        ("Error", {"failed": True}, False),
        ("Error", {"error": True}, True),  # ... and || A.Errored
        ("Failed", {"error": True}, False),
    ],
)
def test_bare_dependency_honours_continue_on(phase, continue_on, expected):
    """ancestry.go expandDependency: a bare name's expansion grows with the dependency's continueOn."""
    assert depends({"A": phase}, "A", continue_on={"A": continue_on}) is expected
    assert depends({"A": phase}, dependencies=["A"], continue_on={"A": continue_on}) is expected


@pytest.mark.parametrize(("expression", "named"), [("A.Bogus", "A.Bogus"), ("A && Z", "Z")])
def test_depends_on_an_unknown_result_or_task_is_an_error(expression, named):
    """Argo's validation: "task result 'Bogus' for task 'A' is invalid" (ancestry.go ValidateTaskResults),
    and a dependency on a task the DAG lacks is rejected."""
    with pytest.raises(ExpressionError, match=named):
        depends({"A": "Succeeded"}, expression)


# ---- retryStrategy.expression (expr-lang; lastRetry.* are strings) ---------------------------------------

RETRY_CASES = [
    # (expression, the last attempt, Argo's value, source)
    ("asInt(lastRetry.exitCode) > 1", {"exit_code": 2}, True, RETRY_EXAMPLE),
    ("asInt(lastRetry.exitCode) > 1", {"exit_code": 1}, False, RETRY_EXAMPLE),
    (
        "asInt(lastRetry.exitCode) > 1 && true == true",
        {"exit_code": 2},
        True,
        RETRY_EXAMPLE,
    ),  # safe-to-retry=true
    ("asInt(lastRetry.exitCode) >= 2", {"exit_code": 2}, True, VARIABLES),  # "cast them to int values"
    ("asInt(lastRetry.exitCode) >= 2", {"exit_code": 1}, False, VARIABLES),
    ("lastRetry.exitCode != '2'", {"exit_code": 2}, False, VARIABLES),  # "or compare them to string values"
    ("lastRetry.exitCode != '2'", {"exit_code": 1}, True, VARIABLES),
    ("lastRetry.exitCode == '-1'", {"exit_code": None}, True, RETRIES),  # "or "-1" if not available"
    (
        "lastRetry.status == 'Error'",
        {"phase": "Error"},
        True,
        RETRIES,
    ),  # "The phase of the last retry: Error, Failed"
    ("lastRetry.status == 'Error'", {"phase": "Failed"}, False, RETRIES),
    ('lastRetry.status == "Failed"', {"phase": "Failed"}, True, RETRIES),
    ("asFloat(lastRetry.duration) < 60", {"duration": 3.0}, True, RETRIES),  # "in seconds"
    ("asFloat(lastRetry.duration) < 60", {"duration": 120.0}, False, RETRIES),
    (
        "lastRetry.message matches 'failure condition'",
        {"message": "failure condition 'x' evaluated true"},
        True,
        RETRIES,
    ),
    ("lastRetry.message matches '^OOM'", {"message": "Error (exit code 1)"}, False, RETRIES),
    ("lastRetry.status == 'Error' or lastRetry.status == 'Failed'", {"phase": "Failed"}, True, EXPR_LANG),
    ("not (lastRetry.status == 'Error') and lastRetry.exitCode != '0'", {"phase": "Failed"}, True, EXPR_LANG),
    ("lastRetry.exitCode in ['1', '2']", {"exit_code": 2}, True, EXPR_LANG),  # in over an array (runtime.In)
    ("lastRetry.exitCode in ['1', '2']", {"exit_code": 3}, False, EXPR_LANG),
    ("lastRetry.exitCode in [1, 2]", {"exit_code": 2}, False, EXPR_RUNTIME),  # In uses Equal: '2' is not 2
    ("lastRetry.exitCode == 2", {"exit_code": 2}, False, EXPR_RUNTIME),  # Equal of string and int: false
    ("lastRetry.exitCode != 2", {"exit_code": 2}, True, EXPR_RUNTIME),
    ("asInt(lastRetry.exitCode) == 2 ? true : false", {"exit_code": 2}, True, EXPR_LANG),  # ternary
]


@pytest.mark.parametrize(("expression", "last", "expected", "source"), RETRY_CASES)
def test_retry_expression(expression, last, expected, source):
    assert retry(expression, **last) is expected, source


RETRY_ERRORS = [
    # expr-lang fails on these (Argo errors the node); we must not give them a value.
    (
        "lastRetry.exitCode > 1",
        "cannot compare '2' > 1",
        EXPR_RUNTIME,
    ),  # More: "invalid operation: string > int"
    ("lastRetry.duration < 60", "cannot compare '3' < 60", EXPR_RUNTIME),
    ("asInt(lastRetry.exitCode) && true", "&& needs true or false", EXPR_LANG),
    ("asInt(lastRetry.exitCode) ? true : false", r"\? needs true or false", EXPR_LANG),
]


@pytest.mark.parametrize(("expression", "message", "source"), RETRY_ERRORS)
def test_retry_expression_that_argo_rejects_is_an_error(expression, message, source):
    with pytest.raises(ExpressionError, match=message):
        retry(expression, exit_code=2)


RETRY_REFUSED = [
    # expr-lang accepts these; our evaluator refuses them, naming the form. (expression, named part, source)
    ("asInt(lastRetry.exitCode) == -1", "-1", RETRIES),  # unary minus
    ("asInt(lastRetry.exitCode) % 2 == 1", "%", EXPR_LANG),  # arithmetic
    ("lastRetry.status startsWith 'Err'", "startsWith", EXPR_LANG),  # string operators
    ("lastRetry.message contains 'OOM'", "contains", EXPR_LANG),
]


@pytest.mark.parametrize(("expression", "named", "source"), RETRY_REFUSED)
def test_retry_form_we_do_not_support_is_refused_by_name(expression, named, source):
    with pytest.raises(ExpressionError) as refused:
        retry(expression)
    assert named in str(refused.value), source


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [(65, False), (70, False), (77, False), (78, False), (1, True), (137, True), (None, True)],
)
def test_retry_expression_of_our_manifests(exit_code, expected):
    """The project's own expression (every template of training.yaml): never retry the exit codes the steps
    use for bad input or settings; retry anything else, the unknown exit code "-1" included."""
    expressions = {
        t["retryStrategy"]["expression"]
        for t in manifest("training")["spec"]["templates"]
        if "retryStrategy" in t
    }
    assert len(expressions) == 1
    assert retry(expressions.pop(), exit_code=exit_code) is expected


@pytest.mark.parametrize(
    ("exit_code", "message", "expected"),
    [
        (64, "Error (exit code 64): failure condition 'status.phase == Failed' evaluated true", False),
        (1, "Error (exit code 1)", True),
        (65, "Error (exit code 65)", False),
    ],
)
def test_retry_expression_of_the_drift_child_workflow(exit_code, message, expected):
    """drift.yaml's retrain adds ``!(lastRetry.message matches 'failure condition')``: a child that ran and
    failed is not created again."""
    strategy = next(
        t["retryStrategy"]
        for t in manifest("drift")["spec"]["templates"]
        if "matches" in str(t.get("retryStrategy"))
    )
    assert retry(strategy["expression"], exit_code=exit_code, message=message) is expected


# ---- functions (util/expr/env/env.go aliases of expr-lang builtins) ---------------------------------------

FUNCTION_CASES = [
    # (expression, Argo's value, source)
    ("asInt('5')", 5, EXPR_LIB),  # strconv.Atoi
    ("asInt('-1')", -1, EXPR_LIB),
    ("asInt('+7')", 7, EXPR_LIB),
    ("asInt('007')", 7, EXPR_LIB),
    ("asInt(2.9)", 2, EXPR_LIB),  # int(float64) truncates
    ("asInt(asFloat('2.5'))", 2, EXPR_LIB),
    ("int('5')", 5, EXPR_LIB),
    ("asFloat('2.5')", 2.5, EXPR_LIB),  # strconv.ParseFloat
    ("asFloat('3')", 3.0, EXPR_LIB),
    ("float('1e3')", 1000.0, EXPR_LIB),
    ("string(1) == '1'", True, VARIABLES),  # "Cast to string: string(1)"
    ("upper('hello')", "HELLO", EXPR_LANG),
    ("lower('HELLO')", "hello", EXPR_LANG),
    ("len('abcd')", 4, EXPR_LANG),
    ("len(['a', 'b'])", 2, EXPR_LANG),
    ("true ? 'yes' : 'no'", "yes", EXPR_LANG),
    ("false ? 'yes' : 'no'", "no", EXPR_LANG),
]


@pytest.mark.parametrize(("expression", "expected", "source"), FUNCTION_CASES)
def test_function(expression, expected, source):
    value = evaluate(expression, {}.__getitem__)
    assert value == expected and type(value) is type(expected), source


FUNCTION_ERRORS = [
    # expr-lang panics on these ("invalid operation: int(5.5)"), so Argo errors.
    ("asInt('5.5')", "asInt", EXPR_LIB),  # Atoi takes whole numbers only
    ("asInt(' 5')", "asInt", EXPR_LIB),
    ("asInt('')", "asInt", EXPR_LIB),
    ("asInt('abc')", "asInt", EXPR_LIB),
    ("int('1e3')", "int", EXPR_LIB),
    ("asInt(true)", "asInt", EXPR_LIB),
    ("asFloat('abc')", "asFloat", EXPR_LIB),
    ("'a' in 'abc'", "in needs a list", EXPR_RUNTIME),  # In: operator "in" not defined on string
]


@pytest.mark.parametrize(("expression", "message", "source"), FUNCTION_ERRORS)
def test_function_that_argo_rejects_is_an_error(expression, message, source):
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, {}.__getitem__)


# ---- {{=...}} expression tags ---------------------------------------------------------------------------

RETRIES_TAG = (
    "{{=asInt(retries) >= 2 ? 'on-demand' : 'spot'}}"  # the form workflows/pipelines/templates.py compiles
)

TAG_CASES = [
    # (value with a tag, scope, Argo's substituted text, source)
    (RETRIES_TAG, {"retries": "0"}, "spot", VARIABLES),  # retries: "The retry number of the container"
    (RETRIES_TAG, {"retries": "2"}, "on-demand", VARIABLES),
    (RETRIES_TAG, {"retries": "3"}, "on-demand", VARIABLES),
    ("pool-{{=asInt(retries) >= 1 ? 'on-demand' : 'spot'}}-a", {"retries": "0"}, "pool-spot-a", TAG_TEMPLATE),
    ("{{=upper(inputs.parameters.msg)}}", {"inputs.parameters.msg": "hello"}, "HELLO", EXPR_LANG),
    (
        "{{=inputs.parameters.mode == 'fast' ? 'small' : 'large'}}",
        {"inputs.parameters.mode": "fast"},
        "small",
        EXPR_LANG,
    ),
    (
        "{{=asInt(inputs.parameters.epochs) > 10 ? 'long' : 'short'}}",
        {"inputs.parameters.epochs": "20"},
        "long",
        VARIABLES,
    ),
    (
        "{{= workflow.name }}",
        {"workflow.name": "training-abc12"},
        "training-abc12",
        VARIABLES,
    ),  # {{=workflow.name}}
    ("{{=asInt(retries)}}", {"retries": "4"}, "4", TAG_TEMPLATE),  # %v of an int
]


@pytest.mark.parametrize(("value", "scope", "expected", "source"), TAG_CASES)
def test_expression_tag(value, scope, expected, source):
    assert substitute(value, scope) == expected, source


TAG_REFUSED = [
    # Argo evaluates these; our evaluator refuses them, naming the form. (tag, named part, source)
    ("{{=jsonpath(inputs.parameters.json, '$.id')}}", "jsonpath", VARIABLES),  # "Extract data from JSON"
    ("{{=inputs.parameters['msg']}}", "[", VARIABLES),  # "indexing into the parameter or step map"
    ("{{=asInt(inputs.parameters.epochs) + 1}}", "+", EXPR_LANG),  # arithmetic
    ("{{=inputs.parameters.msg + '!'}}", "+", EXPR_LANG),  # string concatenation
    ("{{=map([1, 2], # * 2)}}", "map", EXPR_LANG),  # predicates (braces may be omitted)
]


@pytest.mark.parametrize(("value", "named", "source"), TAG_REFUSED)
def test_expression_tag_form_we_do_not_support_is_refused_by_name(value, named, source):
    scope = {
        "inputs.parameters.msg": "hi",
        "inputs.parameters.json": '{"id": 1}',
        "inputs.parameters.epochs": "3",
    }
    with pytest.raises(ExpressionError) as refused:
        substitute(value, scope)
    assert named in str(refused.value), source


# Once refused, now as Argo: govaluate's regex comparators (evaluationStage.go regexStage), Sprig under
# ``sprig.`` and ``toJson`` in expr-lang (util/expr/env/env.go GetFuncMap). (form, Argo's value, source)
SUPPORTED_NOW = [
    (lambda: when(f"{{{{{AGAIN}}}}} =~ hea", {AGAIN: "heads"}), True, CONDITIONALS),
    (lambda: when("tails !~ hea"), True, GOVALUATE),
    (lambda: when("heads =~ '^t'"), False, GOVALUATE),
    (
        lambda: substitute("{{=sprig.trim(inputs.parameters.msg)}}", {"inputs.parameters.msg": " hi "}),
        "hi",
        VARIABLES,
    ),
    (
        lambda: substitute("{{=toJson(inputs.parameters.msg)}}", {"inputs.parameters.msg": "hi"}),
        '"hi"',
        VARIABLES,
    ),
    (
        lambda: substitute("{{=sprig.unknownFn(inputs.parameters.msg)}}", {"inputs.parameters.msg": "hi"}),
        None,
        VARIABLES,
    ),
]


@pytest.mark.parametrize(("form", "expected", "source"), SUPPORTED_NOW)
def test_regex_comparators_and_sprig_as_argo(form, expected, source):
    if expected is None:  # an unknown Sprig function stays an error naming it
        with pytest.raises(ExpressionError, match="sprig.unknownFn"):
            form()
    else:
        assert form() == expected, source


# ---- Where the executor (workflows/local/: substitution, dag, executor) meets expressions: Argo's value --------


def test_boolean_tag_is_written_as_argo_writes_it():
    """expression_template.go writes the result with %v: a bool is 'true', not Python's 'True'."""
    assert substitute("{{=inputs.parameters.x == 'a'}}", {"inputs.parameters.x": "a"}) == "true"


@pytest.mark.parametrize(("data", "expected"), [("", False), ('{"id": 1}', True)])
def test_when_made_of_an_expression_tag(data, expected):
    """The tag gives 'true'/'false', govaluate's booleans, and false Skips the task
    (test/e2e/functional/dag-when-expr-skip.yaml; controller dag_test.go TestDAGWhenExprSkipEval)."""
    assert when("{{= workflow.parameters.data != '' }}", {"workflow.parameters.data": data}) is expected


def test_expression_tag_with_braces_is_not_passed_through():
    """A tag runs to the first '}}' (util/template/template.go: fasttemplate), so variables.md's own
    'map([1, 2], { # * 2 })' is one expression: ours refuses map() by name instead of leaving the text."""
    with pytest.raises(ExpressionError, match="map"):
        substitute("{{=map([1, 2], { # * 2 })}}", {})


def test_expression_without_retry_policy_decides_alone():
    """With an expression and no retryPolicy Argo's policy is Always, so the expression alone decides
    (docs/retries.md; RetryStrategy.RetryPolicyActual): an Error is retried when it says so."""
    assert retry("lastRetry.status == 'Error'", phase="Error", policy=None) is True


def test_retry_expression_that_is_not_a_bool_is_an_error():
    """argoexpr.EvalBool fails on a non-bool ('unable to cast expression result ... to bool')."""
    with pytest.raises(ExpressionError, match="to bool"):
        retry("asInt(lastRetry.exitCode)", exit_code=1)
