"""continueOn, failFast, deadlines and the exit handler, as Argo decides them for a DAG.

dag.go assessDAGPhase (a leaf that continues on its phase does not fail the DAG; with failFast a failed leaf
ends the DAG once every started task is done; executeDAG creates every ready task before assessing),
workflow/common/ancestry.go expandDependency (continueOn adds '.Failed'/'.Errored' to a bare dependency),
operator.go (deadlines; the exit handler runs with workflow.status, and a failed handler fails a succeeded
workflow). The tasks are argosay containers (snippets.py).
"""

from __future__ import annotations

from tests.conformance.case import Case
from tests.conformance.snippets import dag

SLEEP = """
- name: nap
  container: {image: "argoproj/argosay:v2", args: [sleep, 500ms]}
- name: sleep-long
  container: {image: "argoproj/argosay:v2", args: [sleep, 10s]}
"""


def handler(check: str) -> str:
    """An exit handler template that fails unless the python condition ``check`` holds."""
    return f"""
    - name: exit-handler
      container:
        image: python:3.12
        command: [python, -c, "import sys; sys.exit(not ({check}))"]
    """


CASES = [
    Case(
        "continue-on-failed-leaf",
        "examples/dag-continueOn-fail.yaml with assessDAGPhase: a leaf that continues on Failed does not "
        "fail the DAG",
        dag("""
            - {name: A, template: pass}
            - {name: B, dependencies: [A], template: fail, continueOn: {failed: true}}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Failed"},
    ),
    Case(
        "continue-on-error",
        "ancestry.go expandDependency: continueOn.error adds 'A.Errored' to the dependants' bare 'A'; "
        "the error is the unsaved output parameter",
        dag("""
            - {name: A, template: error, continueOn: {error: true}}
            - {name: B, dependencies: [A], template: pass}
        """),
        "Succeeded",
        {"A": "Error", "B": "Succeeded"},
    ),
    Case(
        "continue-on-failed-not-error",
        "ancestry.go expandDependency: continueOn.failed adds only 'A.Failed'; an Error omits B and the "
        "omitted leaf inherits Error",
        dag("""
            - {name: A, template: error, continueOn: {failed: true}}
            - {name: B, dependencies: [A], template: pass}
        """),
        "Error",
        {"A": "Error", "B": "Omitted"},
    ),
    Case(
        "continue-on-error-not-failed",
        "ancestry.go expandDependency: continueOn.error adds only 'A.Errored'; a non-0 exit omits B",
        dag("""
            - {name: A, template: fail, continueOn: {error: true}}
            - {name: B, dependencies: [A], template: pass}
        """),
        "Failed",
        {"A": "Failed", "B": "Omitted"},
    ),
    Case(
        "continue-on-failed-with-dependants-chain",
        "test/e2e/functional/continue-on-fail.yaml (A, then B and C with C continueOn failed, then D); "
        "adapted: steps to a DAG whose D depends on B and C",
        dag("""
            - {name: A, template: pass}
            - {name: B, dependencies: [A], template: pass}
            - {name: C, dependencies: [A], template: fail, continueOn: {failed: true}}
            - {name: D, dependencies: [B, C], template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Failed", "D": "Succeeded"},
    ),
    Case(
        "dag-continue-on-fail-example",
        "examples/dag-continue-on-fail.yaml (labelled no-test-expected-failure): D runs on 'B.Failed && C', "
        "G's 'E && F' omits it and the DAG fails; executeDAG creates D before assessing, so D runs though "
        "G's branch failed; adapted: C naps 0.5 s, so E's failure comes before C ends",
        dag(
            """
            - {name: A, template: pass}
            - {name: B, depends: A, template: fail}
            - {name: C, depends: A, template: nap}
            - {name: D, depends: B.Failed && C, template: pass}
            - {name: E, depends: A, template: fail}
            - {name: F, depends: A, template: pass}
            - {name: G, depends: E && F, template: pass}
            """,
            templates=SLEEP,
        ),
        "Failed",
        {
            "A": "Succeeded",
            "B": "Failed",
            "C": "Succeeded",
            "D": "Succeeded",
            "E": "Failed",
            "F": "Succeeded",
            "G": "Omitted",
        },
    ),
    Case(
        "fail-fast-lets-running-siblings-finish",
        "docs/walk-through/dag.md (failFast: 'waits until all DAG nodes are completed before failing the "
        "DAG') with assessDAGPhase (Running while any started node is not fulfilled)",
        dag(
            """
            - {name: A, template: fail}
            - {name: B, template: nap}
            """,
            templates=SLEEP,
        ),
        "Failed",
        {"A": "Failed", "B": "Succeeded"},
    ),
    Case(
        "fail-fast-still-creates-ready-tasks",
        "dag.go executeDAG: every target's executeDAGTask (which creates each task whose dependencies "
        "are fulfilled) runs before assessDAGPhase, and executeDAGTask has no failFast check; so when "
        "B finishes after A failed, C is created and runs, and then the DAG fails",
        dag(
            """
            - {name: A, template: fail}
            - {name: B, template: nap}
            - {name: C, depends: B, template: pass}
            """,
            templates=SLEEP,
        ),
        "Failed",
        {"A": "Failed", "B": "Succeeded", "C": "Succeeded"},
    ),
    Case(
        "fail-fast-false-runs-everything",
        "examples/dag-disable-failFast.yaml (docs/walk-through/dag.md): failFast false lets the other branch "
        "run to its end, then the DAG fails; adapted: an Error instead of a failure",
        dag(
            """
            - {name: A, template: error}
            - {name: B, template: nap}
            - {name: C, depends: B, template: pass}
            """,
            templates=SLEEP,
            main="",
        ).replace("      dag:\n", "      dag:\n        failFast: false\n", 1),
        "Error",
        {"A": "Error", "B": "Succeeded", "C": "Succeeded"},
    ),
    Case(
        "template-deadline",
        "docs/fields.md (activeDeadlineSeconds: duration relative to the template's start) with "
        "test/e2e/functional_test.go TestParametrizableAds: the pod is killed, the node Failed; adapted: "
        "a 1 s deadline on a 10 s sleep, its dependant omitted",
        dag(
            """
            - {name: A, template: slow}
            - {name: B, depends: A, template: pass}
            """,
            templates="""
            - name: slow
              activeDeadlineSeconds: 1
              container: {image: "argoproj/argosay:v2", args: [sleep, 10s]}
            """,
        ),
        "Failed",
        {"A": "Failed", "B": "Omitted"},
        messages={"A": "Pod was active on the node longer than the specified deadline"},
    ),
    Case(
        "template-deadline-not-reached",
        "docs/fields.md (activeDeadlineSeconds): a task that ends within its deadline succeeds (60 s: never reached, "
        "however loaded the machine)",
        dag(
            "- {name: A, template: quick}",
            templates="""
            - name: quick
              activeDeadlineSeconds: 60
              container: {image: "argoproj/argosay:v2", args: [sleep, 100ms]}
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
    ),
    Case(
        "template-deadline-then-failure-handler",
        "docs/enhanced-depends-logic.md: a deadline-killed task is Failed (not Errored), so '.Failed' "
        "catches it; adapted: 1 s deadline",
        dag(
            """
            - {name: A, template: slow}
            - {name: on-fail, depends: A.Failed, template: pass}
            """,
            templates="""
            - name: slow
              activeDeadlineSeconds: 1
              container: {image: "argoproj/argosay:v2", args: [sleep, 10s]}
            """,
        ),
        "Succeeded",
        {"A": "Failed", "on-fail": "Succeeded"},
    ),
    Case(
        "workflow-deadline",
        "test/e2e/hooks_test.go TestExitHandlerWithWorkflowLevelDeadline "
        "(test/e2e/functional/exit-handler-with-workflow-level-deadline.yaml): spec.activeDeadlineSeconds 1 "
        "fails the workflow; adapted: a DAG and spec.onExit for hooks.exit, the handler a quick echo",
        dag(
            "- {name: sleep, template: sleep-long}",
            spec="activeDeadlineSeconds: 1\nonExit: pass",
            templates=SLEEP,
        ),
        "Failed",
        {"sleep": "Failed"},
    ),
    Case(
        "exit-handler-sees-succeeded",
        "docs/variables.md (workflow.status in an exit handler) with examples/exit-handlers.yaml; the handler "
        "fails unless it saw Succeeded, and a failed handler would fail the workflow",
        dag(
            "- {name: A, template: pass}",
            spec="onExit: exit-handler",
            templates=handler("'{{workflow.status}}' == 'Succeeded'"),
        ),
        "Succeeded",
        {"A": "Succeeded"},
    ),
    Case(
        "exit-handler-failure-fails-workflow",
        "operator.go (main workflow succeeded but the exit node was unsuccessful: the workflow takes the exit "
        "node's phase) with examples/exit-handlers.yaml; the handler exits 1",
        dag(
            "- {name: A, template: pass}",
            spec="onExit: exit-handler",
            templates=handler("'{{workflow.status}}' == 'Failed'"),
        ),
        "Failed",
        {"A": "Succeeded"},
    ),
    Case(
        "exit-handler-sees-failures",
        "docs/variables.md (workflow.failures: JSON of the failed nodes' displayName, message, phase) with "
        "examples/exit-handlers.yaml; continueOn keeps the workflow Succeeded while A's failure is listed",
        dag(
            "- {name: A, template: fail, continueOn: {failed: true}}",
            spec="onExit: exit-handler",
            templates=handler(
                "'{{workflow.status}}' == 'Succeeded' and "
                "[f['displayName'] for f in __import__('json').loads(r'''{{workflow.failures}}''')] == ['A']"
            ),
        ),
        "Succeeded",
        {"A": "Failed"},
    ),
    Case(
        "exit-handler-after-error",
        "docs/variables.md (workflow.status: Succeeded, Failed or Error): the workflow of an errored task is "
        "Error, and its exit handler runs",
        dag(
            "- {name: A, template: error}",
            spec="onExit: exit-handler",
            templates=handler("'{{workflow.status}}' == 'Error'"),
        ),
        "Error",
        {"A": "Error"},
    ),
    Case(
        "exit-handler-error-errors-workflow",
        "operator.go (main workflow succeeded, the exit node unsuccessful: a non-Failed exit node phase "
        "marks the workflow Error); the handler is snippets.py's erroring template",
        dag("- {name: A, template: pass}", spec="onExit: error"),
        "Error",
        {"A": "Succeeded"},
    ),
]
