"""Lifecycle hooks as Argo runs them (docs/lifecyclehook.md, workflow/controller/hooks.go, test/e2e/hooks_test.go).

A hook runs its template once, when its expression holds (``executeWfLifeCycleHook``, ``executeTmplLifeCycleHook``),
as node ``<node>.hooks.<name>`` (``generateLifeHookNodeName``; the record leaves out the workflow's name). A hook's
phase changes neither its task's nor the workflow's: dag.go ``assessDAGPhase`` and ``evaluateDependsLogic`` read the
tasks' own phases, steps.go a group's children's, operator.go the workflow's from its entrypoint and exit handler
("A hook that ends Failed is ignored", docs/lifecyclehook.md). ``exit`` hooks are exit handlers: the workflow's is
``<wf>.onExit`` (``WorkflowSpec.GetExitHook``, which a failure of fails a succeeded workflow), a task's or step's
``<node>.onExit`` (``runOnExitNode``). Argo's e2e templates run ``/bin/sleep 1; /argosay`` so that the controller
sees them Running; here argosay runs as they do without the sleep (the executor starts a task's Running hooks as
it starts it), and ``exit 1`` stands for ``/argosay; exit 1``.
"""

from __future__ import annotations

from tests.conformance.case import Case

HEAD = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: lifecycle-hook-
spec:
  entrypoint: main
"""
ARGOSAY = """
    - name: argosay
      container: {image: "argoproj/argosay:v2"}
    - name: hook
      container: {image: "argoproj/argosay:v2"}
    - name: fail
      container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
"""
E2E = "test/e2e/hooks_test.go "


def manifest(body: str, hooks: str = "") -> str:
    return HEAD + hooks + "  templates:\n" + body + ARGOSAY


CASES = [
    Case(
        "wf-hooks-running-and-succeeded",
        E2E + "TestWorkflowLevelHooksSuccessVersion: both workflow hooks Succeeded, the workflow Succeeded",
        manifest(
            """
    - name: main
      steps:
      - - {name: step1, template: argosay}
""",
            """
  hooks:
    running: {expression: 'workflow.status == "Running"', template: argosay}
    succeed: {expression: 'workflow.status == "Succeeded"', template: argosay}
""",
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].step1": "Succeeded"},
        hooks={"hooks.running": "Succeeded", "hooks.succeed": "Succeeded"},
    ),
    Case(
        "wf-hooks-running-and-failed",
        E2E + "TestWorkflowLevelHooksFailVersion: step1 exits 1; the running and failed hooks Succeeded, the "
        "workflow Failed",
        manifest(
            """
    - name: main
      steps:
      - - {name: step1, template: fail}
""",
            """
  hooks:
    running: {expression: 'workflow.status == "Running"', template: hook}
    failed: {expression: 'workflow.status == "Failed"', template: hook}
""",
        ),
        "Failed",
        {"[0]": "Failed", "[0].step1": "Failed"},
        hooks={"hooks.running": "Succeeded", "hooks.failed": "Succeeded"},
    ),
    Case(
        "wf-hook-never-triggered-is-not-waited-for",
        E2E + "TestWorkflowLevelHooksWaitForTriggeredHook: the failed hook never holds and gets no node; the "
        "workflow waits for the running hook only and Succeeds",
        manifest(
            """
    - name: main
      steps:
      - - {name: step1, template: argosay}
""",
            """
  hooks:
    running: {expression: 'workflow.status == "Running"', template: hook}
    failed: {expression: 'workflow.status == "Failed"', template: hook}
""",
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].step1": "Succeeded"},
        hooks={"hooks.running": "Succeeded"},
    ),
    Case(
        "step-hooks-running-and-succeeded",
        E2E
        + "TestTemplateLevelHooksStepSuccessVersion: each step's running and succeed hooks Succeeded (Argo "
        "leaves step-2's running hook unasserted: its pod may end before the controller sees it Running)",
        manifest(
            """
    - name: main
      steps:
      - - name: step-1
          template: argosay
          hooks:
            running: {expression: 'steps["step-1"].status == "Running"', template: argosay}
            succeed: {expression: 'steps["step-1"].status == "Succeeded"', template: argosay}
      - - name: step-2
          template: argosay
          hooks:
            running: {expression: 'steps["step-2"].status == "Running"', template: argosay}
            succeed: {expression: 'steps["step-2"].status == "Succeeded"', template: argosay}
"""
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].step-1": "Succeeded", "[1]": "Succeeded", "[1].step-2": "Succeeded"},
        hooks={
            "[0].step-1.hooks.running": "Succeeded",
            "[0].step-1.hooks.succeed": "Succeeded",
            "[1].step-2.hooks.running": "Succeeded",
            "[1].step-2.hooks.succeed": "Succeeded",
        },
    ),
    Case(
        "step-hooks-running-and-failed",
        E2E
        + "TestTemplateLevelHooksStepFailVersion: step-1 fails; its running and failed hooks Succeeded, the "
        "workflow Failed",
        manifest(
            """
    - name: main
      steps:
      - - name: step-1
          template: fail
          hooks:
            running: {expression: 'steps["step-1"].status == "Running"', template: hook}
            failed: {expression: 'steps["step-1"].status == "Failed"', template: hook}
"""
        ),
        "Failed",
        {"[0]": "Failed", "[0].step-1": "Failed"},
        hooks={"[0].step-1.hooks.running": "Succeeded", "[0].step-1.hooks.failed": "Succeeded"},
    ),
    Case(
        "task-hooks-running-and-succeeded",
        E2E + "TestTemplateLevelHooksDagSuccessVersion: step-2 depends on step-1; all four hooks Succeeded",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: step-1
          template: argosay
          hooks:
            running: {expression: 'tasks["step-1"].status == "Running"', template: argosay}
            succeed: {expression: 'tasks["step-1"].status == "Succeeded"', template: argosay}
        - name: step-2
          template: argosay
          dependencies: [step-1]
          hooks:
            running: {expression: 'tasks["step-2"].status == "Running"', template: argosay}
            succeed: {expression: 'tasks["step-2"].status == "Succeeded"', template: argosay}
"""
        ),
        "Succeeded",
        {"step-1": "Succeeded", "step-2": "Succeeded"},
        hooks={
            "step-1.hooks.running": "Succeeded",
            "step-1.hooks.succeed": "Succeeded",
            "step-2.hooks.running": "Succeeded",
            "step-2.hooks.succeed": "Succeeded",
        },
    ),
    Case(
        "task-hooks-running-and-failed",
        E2E + "TestTemplateLevelHooksDagFailVersion: step-1 fails; its running and failed hooks Succeeded",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: step-1
          template: fail
          hooks:
            running: {expression: 'tasks["step-1"].status == "Running"', template: hook}
            failed: {expression: 'tasks["step-1"].status == "Failed"', template: hook}
"""
        ),
        "Failed",
        {"step-1": "Failed"},
        hooks={"step-1.hooks.running": "Succeeded", "step-1.hooks.failed": "Succeeded"},
    ),
    Case(
        "task-hooks-of-an-omitted-task-do-not-run",
        E2E + "TestTemplateLevelHooksDagHasDependencyVersion: A fails, B (depends on A) is Omitted; only "
        "A.hooks.running runs (progress 1/2: 'unnecessary hooks are not triggered')",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: A
          template: fail
          hooks:
            running: {template: hook, expression: 'tasks.A.status == "Running"'}
            success: {template: hook, expression: 'tasks.A.status == "Succeeded"'}
        - name: B
          template: argosay
          dependencies: [A]
          hooks:
            running: {template: hook, expression: 'tasks.B.status == "Running"'}
            success: {template: hook, expression: 'tasks.B.status == "Succeeded"'}
"""
        ),
        "Failed",
        {"A": "Failed", "B": "Omitted"},
        hooks={"A.hooks.running": "Succeeded"},
    ),
    Case(
        "step-hook-never-triggered-is-not-waited-for",
        E2E
        + "TestTemplateLevelHooksWaitForTriggeredHook: job's running hook Succeeded, its failed hook never "
        "holds; the workflow Succeeded",
        manifest(
            """
    - name: main
      steps:
      - - name: job
          template: argosay
          hooks:
            running:
              expression: steps['job'].status == "Running"
              template: hook
            failed:
              expression: steps['job'].status == "Failed"
              template: hook
"""
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].job": "Succeeded"},
        hooks={"[0].job.hooks.running": "Succeeded"},
    ),
    Case(
        "wf-hooks-with-a-retried-entrypoint",
        E2E + "TestWorkflowLevelHooksWithRetry: the entrypoint is a container retried once (limit 1), both "
        "attempts fail (progress 2/4: its two pods and two hooks); the running and failed hooks Succeeded, the "
        "workflow Failed; the record names the entrypoint's node after its template",
        manifest(
            """
    - name: main
      container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
      retryStrategy: {limit: 1}
""",
            """
  hooks:
    failed: {template: hook, expression: 'workflow.status == "Failed"'}
    running: {template: hook, expression: 'workflow.status == "Running"'}
""",
        ),
        "Failed",
        {"main": "Failed"},
        attempts={"main": 2},
        hooks={"hooks.running": "Succeeded", "hooks.failed": "Succeeded"},
    ),
    Case(
        "wf-exit-hook-is-the-exit-handler",
        "docs/lifecyclehook.md (notification use case: hooks.exit and a running hook) and operator.go "
        "(WorkflowSpec.GetExitHook: hooks.exit runs as the workflow's onExit node); adapted: argosay for http",
        manifest(
            """
    - name: main
      steps:
      - - {name: step1, template: argosay}
""",
            """
  hooks:
    exit: {template: hook}
    running: {expression: 'workflow.status == "Running"', template: hook}
""",
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].step1": "Succeeded"},
        hooks={"hooks.running": "Succeeded", "onExit": "Succeeded"},
    ),
    Case(
        "wf-exit-hook-failure-fails-the-workflow",
        "operator.go (a succeeded workflow whose exit node failed is Failed) with WorkflowSpec.GetExitHook "
        "(hooks.exit is the exit node)",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, template: argosay}
""",
            """
  hooks:
    exit: {template: fail}
""",
        ),
        "Failed",
        {"A": "Succeeded"},
        hooks={"onExit": "Failed"},
    ),
    Case(
        "wf-hook-expression-error-errs-the-workflow",
        "hooks.go executeWfLifeCycleHook, v3.6/3.7 (an expression argoexpr cannot evaluate, a text compared with a "
        "number: EvalBool's error is returned before any hook node is made) and operator.go (markNodeError of the "
        "entry node with it)",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, template: argosay}
""",
            """
  hooks:
    bad: {expression: 'workflow.status > 1', template: hook}
""",
        ),
        "Error",
        {"A": "Succeeded"},
        hooks={},
    ),
    Case(
        "wf-hook-failure-is-ignored",
        "docs/lifecyclehook.md ('A hook that ends Failed is ignored'); operator.go takes the workflow's phase "
        "from its entrypoint and exit handler only",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, template: argosay}
""",
            """
  hooks:
    done: {expression: 'workflow.status == "Succeeded"', template: fail}
""",
        ),
        "Succeeded",
        {"A": "Succeeded"},
        hooks={"hooks.done": "Failed"},
    ),
    Case(
        "task-exit-hooks-run-whatever-the-phase",
        "examples/exit-handler-dag-level.yaml ('executes at the end of the task irrespective of the success, "
        "failure, or error of the task'; dag.go runOnExitNode once the task node Completed, as <task>.onExit); "
        "adapted: onExit as hooks.exit, A fails so B's depends omits it, D's runs after B and C",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, template: fail, hooks: {exit: {template: hook}}}
        - {name: B, depends: A, template: argosay, hooks: {exit: {template: hook}}}
        - {name: C, depends: A.Failed, template: argosay, hooks: {exit: {template: hook}}}
        - {name: D, depends: C, template: argosay, hooks: {exit: {template: hook}}}
"""
        ),
        "Failed",
        {"A": "Failed", "B": "Omitted", "C": "Succeeded", "D": "Succeeded"},
        hooks={"A.onExit": "Succeeded", "C.onExit": "Succeeded", "D.onExit": "Succeeded"},
    ),
    Case(
        "task-onexit-field-is-an-exit-hook",
        "examples/exit-handler-dag-level.yaml as written (the task's onExit: WorkflowStep.GetExitHook); adapted: "
        "argosay echo for busybox",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, onExit: hook, template: argosay}
        - {name: B, depends: A, onExit: hook, template: argosay}
"""
        ),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded"},
        hooks={"A.onExit": "Succeeded", "B.onExit": "Succeeded"},
    ),
    Case(
        "step-exit-hook-reads-its-steps-output",
        "examples/exit-handler-with-param.yaml: step-1's exit hook gets {{steps.step-1.outputs.parameters.result}} "
        "as its argument (hooks.go resolveExitTmplArgument); adapted: argosay writes the output, the exit template "
        "fails unless it reads 'hello world'",
        manifest(
            """
    - name: main
      steps:
      - - name: step-1
          template: output
          hooks:
            exit:
              template: exit
              arguments:
                parameters: [{name: message, value: "{{steps.step-1.outputs.parameters.result}}"}]
    - name: output
      container: {image: "argoproj/argosay:v2", args: [echo, hello world, /tmp/hello_world.txt]}
      outputs:
        parameters:
        - name: result
          valueFrom: {default: Foobar, path: /tmp/hello_world.txt}
    - name: exit
      inputs:
        parameters: [{name: message}]
      container:
        image: python:alpine
        command: [python, -c, "import sys; sys.exit(sys.argv[1] != 'hello world')", "{{inputs.parameters.message}}"]
"""
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].step-1": "Succeeded"},
        hooks={"[0].step-1.onExit": "Succeeded"},
    ),
    Case(
        "task-hook-failure-is-ignored",
        "docs/lifecyclehook.md ('A hook that ends Failed is ignored'); dag.go evaluateDependsLogic and "
        "assessDAGPhase read A's own phase, so B runs once A's hook is done",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: A
          template: argosay
          hooks:
            done: {expression: 'tasks.A.status == "Succeeded"', template: fail}
            exit: {template: fail}
        - {name: B, depends: A, template: argosay}
"""
        ),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded"},
        hooks={"A.hooks.done": "Failed", "A.onExit": "Failed"},
    ),
    Case(
        "task-hook-runs-once-and-its-dependents-wait",
        "docs/lifecyclehook.md ('at most once for the workflow, step or task it is attached to'; 'the steps or "
        "tasks that depend on it wait for all of its hooks') with dag.go evaluateDependsLogic "
        "(CheckAllHooksFullfilled); the hook's expression holds while A runs and once it has ended, the hook "
        "appends a line after a pause, and B fails unless it finds exactly one (C ends meanwhile, waking the scheduler)",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: A
          template: argosay
          hooks:
            seen: {expression: 'tasks.A.status == "Running" || tasks.A.status == "Succeeded"', template: mark}
        - {name: B, depends: A, template: count}
        - {name: C, template: nap}
    - name: nap
      container: {image: "argoproj/argosay:v2", args: [sleep, 150ms]}
    - name: mark
      container:
        image: python:alpine
        command: [python, -c, "import time; time.sleep(0.3); open('/tmp/{{workflow.uid}}.hook', 'a').write('x')"]
    - name: count
      container:
        image: python:alpine
        command: [python, -c, "import sys; sys.exit(open('/tmp/{{workflow.uid}}.hook').read() != 'x')"]
"""
        ),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded", "C": "Succeeded"},
        hooks={"A.hooks.seen": "Succeeded"},
    ),
    Case(
        "task-hooks-of-a-skipped-task-run",
        "dag.go executeDAGTask (v3.6): a task node that is Fulfilled (Skipped included) gets executeTmplLifeCycleHook "
        "with tasks.A.status set to its phase, so A's skipped hook holds and runs; no exit hook (not Completed)",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: A
          template: argosay
          when: "1 == 2"
          hooks:
            skipped: {template: hook, expression: 'tasks.A.status == "Skipped"'}
        - {name: B, template: argosay}
"""
        ),
        "Succeeded",
        {"A": "Skipped", "B": "Succeeded"},
        hooks={"A.hooks.skipped": "Succeeded"},
    ),
    Case(
        "nested-dag-task-hooks-of-a-skipped-task-run",
        "dag.go executeDAGTask (v3.6), the same in a DAG nested in a task: outer.A Skipped, its skipped hook runs",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: outer, template: inner}
    - name: inner
      dag:
        tasks:
        - name: A
          template: argosay
          when: "1 == 2"
          hooks:
            skipped: {template: hook, expression: 'tasks.A.status == "Skipped"'}
"""
        ),
        "Succeeded",
        {"outer": "Succeeded", "outer.A": "Skipped"},
        hooks={"outer.A.hooks.skipped": "Succeeded"},
    ),
    Case(
        "task-hooks-of-an-omitted-task-run",
        "dag.go executeDAGTask (v3.6): B, Omitted by its depends, is Fulfilled, so its hooks are evaluated with "
        "tasks.B.status Omitted (executeTmplLifeCycleHook) and its omitted hook runs",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - {name: A, template: fail}
        - name: B
          template: argosay
          depends: A
          hooks:
            omitted: {template: hook, expression: 'tasks.B.status == "Omitted"'}
"""
        ),
        "Failed",
        {"A": "Failed", "B": "Omitted"},
        hooks={"B.hooks.omitted": "Succeeded"},
    ),
    Case(
        "step-hooks-of-a-skipped-step-do-not-run",
        "steps.go executeStepGroup (v3.7): hooks are read from nodeSteps[child], which holds only the steps it "
        "executed, so a step whose when is false has no hooks evaluated",
        manifest(
            """
    - name: main
      steps:
      - - name: job
          template: argosay
          when: "1 == 2"
          hooks:
            skipped: {template: hook, expression: 'steps.job.status == "Skipped"'}
"""
        ),
        "Succeeded",
        {"[0]": "Succeeded", "[0].job": "Skipped"},
    ),
    Case(
        "task-hook-expression-error-errs-the-task",
        "hooks.go executeTmplLifeCycleHook (v3.6/3.7: EvalBool's error is returned, no hook node) and dag.go "
        "executeDAGTask (markNodeError of the task node, returning before runOnExitNode): A Error, B Omitted, the "
        "DAG and the workflow Error (assessDAGPhase)",
        manifest(
            """
    - name: main
      dag:
        tasks:
        - name: A
          template: argosay
          hooks:
            bad: {template: hook, expression: 'tasks.A.status > 1'}
            exit: {template: hook}
        - {name: B, template: argosay, depends: A}
"""
        ),
        "Error",
        {"A": "Error", "B": "Omitted"},
    ),
    Case(
        "step-hook-expression-error-fails-the-steps",
        "hooks.go executeTmplLifeCycleHook (v3.6/3.7) and steps.go executeStepGroup (markNodeError of the step "
        "group, not the step; then executeSteps marks the steps node Failed: 'step group ... was unsuccessful'); "
        "the next group never starts",
        manifest(
            """
    - name: main
      steps:
      - - name: job
          template: argosay
          hooks:
            bad: {template: hook, expression: 'steps.job.status > 1'}
      - - {name: after, template: argosay}
"""
        ),
        "Failed",
        {"[0]": "Error", "[0].job": "Succeeded"},
    ),
]
