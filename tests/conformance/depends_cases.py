"""``depends`` results and operators, and ``dependencies`` lists, as Argo evaluates them.

docs/enhanced-depends-logic.md lists the results (``.Succeeded .Failed .Errored .Skipped .Omitted .Daemoned``,
``.AnySucceeded .AllFailed`` for loops), the operators ``&& || !`` and a bare name's meaning
(``Succeeded || Skipped || Daemoned``); workflow/common/ancestry.go expands them, dag.go executeDAGTask omits a
task whose condition is false, and dag.go assessDAGPhase decides the DAG from its leaves, an omitted leaf
inheriting its parents' phase (Failed or Error preferred). The tasks are argosay containers (snippets.py).
"""

from __future__ import annotations

from tests.conformance.case import Case
from tests.conformance.snippets import dag

DOC = "docs/enhanced-depends-logic.md"

CASES = [
    Case(
        "depends-failed-handler-runs",
        f"{DOC} ('.Failed': task exited non-zero); assessDAGPhase: the leaf handler succeeded, so the DAG did",
        dag("""
            - {name: A, template: fail}
            - {name: on-fail, depends: A.Failed, template: pass}
        """),
        "Succeeded",
        {"A": "Failed", "on-fail": "Succeeded"},
    ),
    Case(
        "depends-success-and-failure-handlers",
        f"{DOC}; assessDAGPhase: the omitted success branch inherits A's Failed, so the DAG fails although "
        "the failure handler succeeded",
        dag("""
            - {name: A, template: fail}
            - {name: on-fail, depends: A.Failed, template: pass}
            - {name: on-success, depends: A.Succeeded, template: pass}
        """),
        "Failed",
        {"A": "Failed", "on-fail": "Succeeded", "on-success": "Omitted"},
        messages={"on-success": "omitted: depends condition not met"},
    ),
    Case(
        "depends-failed-not-met",
        f"{DOC}; the failure handler of a task that succeeded is Omitted and inherits Succeeded",
        dag("""
            - {name: A, template: pass}
            - {name: on-fail, depends: A.Failed, template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "on-fail": "Omitted"},
    ),
    Case(
        "depends-errored-handler-runs",
        f"{DOC} ('.Errored': an error other than a non-0 exit code: the unsaved output parameter)",
        dag("""
            - {name: A, template: error}
            - {name: on-error, depends: A.Errored, template: pass}
        """),
        "Succeeded",
        {"A": "Error", "on-error": "Succeeded"},
    ),
    Case(
        "depends-failed-is-not-errored",
        f"{DOC}: '.Failed' is a non-0 exit only, so an Error omits the task; the omitted leaf inherits Error",
        dag("""
            - {name: A, template: error}
            - {name: on-fail, depends: A.Failed, template: pass}
        """),
        "Error",
        {"A": "Error", "on-fail": "Omitted"},
    ),
    Case(
        "depends-errored-is-not-failed",
        f"{DOC}: '.Errored' does not match a non-0 exit; the omitted leaf inherits Failed",
        dag("""
            - {name: A, template: fail}
            - {name: on-error, depends: A.Errored, template: pass}
        """),
        "Failed",
        {"A": "Failed", "on-error": "Omitted"},
    ),
    Case(
        "depends-failed-or-errored",
        f"{DOC} (boolean logic with ||): one handler for both kinds of failure",
        dag("""
            - {name: A, template: fail}
            - {name: B, template: error}
            - {name: on-a, depends: A.Failed || A.Errored, template: pass}
            - {name: on-b, depends: B.Failed || B.Errored, template: pass}
        """),
        "Succeeded",
        {"A": "Failed", "B": "Error", "on-a": "Succeeded", "on-b": "Succeeded"},
    ),
    Case(
        "depends-skipped",
        f"{DOC} ('.Skipped': the when evaluated false); the task depending on '.Succeeded' is Omitted, and "
        "inherits the skipped branch's phase, not a failure",
        dag("""
            - {name: A, template: pass, when: "1 == 2"}
            - {name: on-skip, depends: A.Skipped, template: pass}
            - {name: on-success, depends: A.Succeeded, template: pass}
        """),
        "Succeeded",
        {"A": "Skipped", "on-skip": "Succeeded", "on-success": "Omitted"},
    ),
    Case(
        "depends-omitted",
        f"{DOC} ('.Omitted': the task's depends evaluated false): a task can follow an omitted one",
        dag("""
            - {name: A, template: pass}
            - {name: B, depends: A.Failed, template: pass}
            - {name: C, depends: B.Omitted, template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Omitted", "C": "Succeeded"},
    ),
    Case(
        "depends-bare-name-excludes-omitted",
        f"{DOC}: a bare name is (Succeeded || Skipped || Daemoned), so an omitted parent omits its child",
        dag("""
            - {name: A, template: pass}
            - {name: B, depends: A.Failed, template: pass}
            - {name: C, depends: B, template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Omitted", "C": "Omitted"},
    ),
    Case(
        "depends-bare-name-includes-skipped",
        f"{DOC}: a bare name is (Succeeded || Skipped || Daemoned): a skipped parent lets its child run",
        dag("""
            - {name: A, template: pass, when: "false"}
            - {name: B, depends: A, template: pass}
        """),
        "Succeeded",
        {"A": "Skipped", "B": "Succeeded"},
    ),
    Case(
        "depends-not",
        f"{DOC} (the ! operator): '!A.Failed' holds for a success, '!A.Succeeded' does not",
        dag("""
            - {name: A, template: pass}
            - {name: B, depends: "!A.Failed", template: pass}
            - {name: C, depends: "!A.Succeeded", template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Omitted"},
    ),
    Case(
        "depends-parentheses",
        f"{DOC}: the example '(task-2.Succeeded || task-2.Skipped) && !task-3.Failed'",
        dag("""
            - {name: task-1, template: pass}
            - {name: task-2, template: pass, when: "false"}
            - {name: task-3, template: fail}
            - {name: ok, depends: "(task-2.Succeeded || task-2.Skipped) && !task-3.Errored", template: pass}
            - {name: not-ok, depends: "(task-2.Succeeded || task-2.Skipped) && !task-3.Failed", template: pass}
            - {name: handled, depends: "task-3.Failed", template: pass}
        """),
        "Failed",
        {
            "task-1": "Succeeded",
            "task-2": "Skipped",
            "task-3": "Failed",
            "ok": "Succeeded",
            "not-ok": "Omitted",
            "handled": "Succeeded",
        },
    ),
    Case(
        "depends-and-binds-tighter-than-or",
        f"{DOC} with ancestry.go (govaluate precedence: && before ||): 'A.Failed && B.Failed || C' holds "
        "through C alone",
        dag("""
            - {name: A, template: pass}
            - {name: B, template: pass}
            - {name: C, template: pass}
            - {name: D, depends: "A.Failed && B.Failed || C", template: pass}
            - {name: E, depends: "A.Failed && (B.Failed || C)", template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded", "D": "Succeeded", "E": "Omitted"},
    ),
    Case(
        "depends-any-succeeded",
        f"{DOC} ('.AnySucceeded' for a withItems task): one item succeeding is enough; the loop itself failed",
        dag("""
            - name: A
              template: exit-with
              arguments: {parameters: [{name: code, value: "{{item}}"}]}
              withItems: [0, 1]
            - {name: B, depends: A.AnySucceeded, template: pass}
        """),
        "Succeeded",
        {"A": "Failed", "A(0:0)": "Succeeded", "A(1:1)": "Failed", "B": "Succeeded"},
    ),
    Case(
        "depends-all-failed",
        f"{DOC} ('.AllFailed' for a withItems task): every item failed, the handler runs",
        dag("""
            - name: A
              template: exit-with
              arguments: {parameters: [{name: code, value: "{{item}}"}]}
              withItems: [1, 2]
            - {name: B, depends: A.AllFailed, template: pass}
        """),
        "Succeeded",
        {"A": "Failed", "A(0:1)": "Failed", "A(1:2)": "Failed", "B": "Succeeded"},
    ),
    Case(
        "depends-all-failed-not-met",
        f"{DOC}: one item succeeded, so '.AllFailed' is false; the omitted leaf inherits the loop's Failed",
        dag("""
            - name: A
              template: exit-with
              arguments: {parameters: [{name: code, value: "{{item}}"}]}
              withItems: [0, 1]
            - {name: B, depends: A.AllFailed, template: pass}
        """),
        "Failed",
        {"A": "Failed", "A(0:0)": "Succeeded", "A(1:1)": "Failed", "B": "Omitted"},
    ),
    Case(
        "depends-any-succeeded-not-met",
        f"{DOC}: no item succeeded, so '.AnySucceeded' is false",
        dag("""
            - name: A
              template: exit-with
              arguments: {parameters: [{name: code, value: "{{item}}"}]}
              withItems: [3, 4]
            - {name: B, depends: A.AnySucceeded, template: pass}
        """),
        "Failed",
        {"A": "Failed", "A(0:3)": "Failed", "A(1:4)": "Failed", "B": "Omitted"},
    ),
    Case(
        "dependencies-list-diamond",
        "test/e2e/functional/dag-diamond.yaml (docs/walk-through/dag.md): dependencies [B, C] waits for both; "
        "adapted: the echo template is argosay's say",
        dag("""
            - {name: A, template: say, arguments: {parameters: [{name: message, value: A}]}}
            - {name: B, dependencies: [A], template: say, arguments: {parameters: [{name: message, value: B}]}}
            - {name: C, dependencies: [A], template: say, arguments: {parameters: [{name: message, value: C}]}}
            - {name: D, dependencies: [B, C], template: say, arguments: {parameters: [{name: message, value: D}]}}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded", "D": "Succeeded"},
        args={"D": ["echo", "D"]},
    ),
    Case(
        "dependencies-multiroot",
        "test/e2e/functional/dag-multiroot.yaml: two roots A and B, C after A, D after A and B; adapted: "
        "the echo template is argosay's say",
        dag("""
            - {name: A, template: say, arguments: {parameters: [{name: message, value: A}]}}
            - {name: B, template: say, arguments: {parameters: [{name: message, value: B}]}}
            - {name: C, dependencies: [A], template: say, arguments: {parameters: [{name: message, value: C}]}}
            - {name: D, dependencies: [A, B], template: say, arguments: {parameters: [{name: message, value: D}]}}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded", "D": "Succeeded"},
    ),
    Case(
        "dependencies-failed-parent-omits",
        f"{DOC}: dependencies [A, B] is 'A && B', bare names, so a failed B omits C and the DAG fails",
        dag("""
            - {name: A, template: pass}
            - {name: B, template: fail}
            - {name: C, dependencies: [A, B], template: pass}
        """),
        "Failed",
        {"A": "Succeeded", "B": "Failed", "C": "Omitted"},
    ),
    Case(
        "dependencies-skipped-parent-runs",
        f"{DOC}: a bare dependency includes Skipped, so dependencies on a skipped task still run",
        dag("""
            - {name: A, template: pass}
            - {name: B, template: pass, when: "false"}
            - {name: C, dependencies: [A, B], template: pass}
        """),
        "Succeeded",
        {"A": "Succeeded", "B": "Skipped", "C": "Succeeded"},
    ),
]
