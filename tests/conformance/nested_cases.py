"""Loops and parallelism inside nested dag and steps templates, as Argo runs them (workflow/controller/dag.go,
steps.go, operator.go).

A looped task of a DAG nested in node ``N`` is a task group ``N.<task>``, its items ``N.<task>(i:value)``
(dag.go ``taskNodeName``: the boundary's node name, then the expanded task's name from ``expandTask`` /
``generateNodeName``); the group is Succeeded, or its last failed item's phase (``executeDAGTask``); its fan-in
is ``processAggregateNodeOutputs``'. A nested template's ``parallelism`` caps its own active children
(operator.go ``checkParallelism`` and ``countActiveChildren``): the phases are those of the same workflow without
it. ``source`` names each case's origin and what was adapted; argosay stands in for alpine and busybox.
"""

from __future__ import annotations

from tests.conformance.case import Case
from tests.conformance.steps_cases import ECHO, FAIL, manifest

PRODUCE = """
  - name: produce
    inputs:
      parameters:
      - name: value
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.value}}", "/tmp/out"]
    outputs:
      parameters:
      - name: out
        valueFrom: {path: /tmp/out}
"""

LOOP_IN_NESTED_DAG = Case(
    "loop-in-a-nested-dag",
    "examples/loops-dag.yaml's looped task B inside examples/dag-nested.yaml's nested DAG: the group is "
    "<task>.B, its items <task>.B(i:value) (dag.go taskNodeName over expandTask's names), C after all of them",
    manifest(
        "nested-loop",
        """  - name: main
    dag:
      tasks:
      - {name: outer, template: inner}
  - name: inner
    dag:
      tasks:
      - name: A
        template: echo
        arguments: {parameters: [{name: message, value: A}]}
      - name: B
        depends: A
        template: echo
        arguments: {parameters: [{name: message, value: "{{item}}"}]}
        withItems: [foo, bar]
      - name: C
        depends: B
        template: echo
        arguments: {parameters: [{name: message, value: C}]}
""",
        ECHO,
    ),
    "Succeeded",
    {
        "outer": "Succeeded",
        "outer.A": "Succeeded",
        "outer.B": "Succeeded",
        "outer.B(0:foo)": "Succeeded",
        "outer.B(1:bar)": "Succeeded",
        "outer.C": "Succeeded",
    },
    args={"outer.B(1:bar)": ["echo", "bar"]},
)

PARAM_FROM_INPUTS = Case(
    "with-param-from-nested-inputs",
    "examples/parallelism-nested.yaml's withParam '{{inputs.parameters.seq-list}}' (a nested template's input, "
    "dag.go resolveDependencyReferences then expandTask), here in a nested DAG; adapted: alpine echo to argosay",
    manifest(
        "nested-param",
        """  - name: main
    dag:
      tasks:
      - name: worker
        template: inner
        arguments: {parameters: [{name: list, value: '["a","b","c"]'}]}
  - name: inner
    inputs:
      parameters:
      - name: list
    dag:
      tasks:
      - name: seq
        template: echo
        arguments: {parameters: [{name: message, value: "{{inputs.parameters.list}}-{{item}}"}]}
        withParam: "{{inputs.parameters.list}}"
""",
        ECHO,
    ),
    "Succeeded",
    {
        "worker": "Succeeded",
        "worker.seq": "Succeeded",
        "worker.seq(0:a)": "Succeeded",
        "worker.seq(1:b)": "Succeeded",
        "worker.seq(2:c)": "Succeeded",
    },
    args={"worker.seq(2:c)": ["echo", '["a","b","c"]-c']},
)

FAN_IN = Case(
    "fan-in-in-a-nested-dag",
    "operator.go processAggregateNodeOutputs: a looped task's outputs.parameters.out is the JSON list of its items' "
    "values, read here by the nested DAG's next task and by the template's output (valueFrom.parameter, "
    "getTemplateOutputsFromScope) which the outer DAG reads as tasks.outer.outputs.parameters.all",
    manifest(
        "nested-fan-in",
        """  - name: main
    dag:
      tasks:
      - {name: outer, template: inner}
      - name: after
        depends: outer
        template: echo
        arguments: {parameters: [{name: message, value: "{{tasks.outer.outputs.parameters.all}}"}]}
  - name: inner
    dag:
      tasks:
      - name: fan
        template: produce
        arguments: {parameters: [{name: value, value: "{{item}}"}]}
        withSequence: {count: "3", start: "1"}
      - name: join
        depends: fan
        template: echo
        arguments: {parameters: [{name: message, value: "{{tasks.fan.outputs.parameters.out}}"}]}
    outputs:
      parameters:
      - name: all
        valueFrom: {parameter: "{{tasks.fan.outputs.parameters.out}}"}
""",
        ECHO,
        PRODUCE,
    ),
    "Succeeded",
    {
        "outer": "Succeeded",
        "outer.fan": "Succeeded",
        "outer.fan(0:1)": "Succeeded",
        "outer.fan(1:2)": "Succeeded",
        "outer.fan(2:3)": "Succeeded",
        "outer.join": "Succeeded",
        "after": "Succeeded",
    },
    args={"outer.join": ["echo", '["1","2","3"]'], "after": ["echo", '["1","2","3"]']},
)

FAILED_ITEM = Case(
    "failed-item-in-a-nested-dag",
    "dag.go executeDAGTask: the group takes its failed item's phase once all items are done; assessDAGPhase then "
    "fails the nested DAG (its leaf B failed), so the outer task fails and its dependant is Omitted; "
    "adapted from examples/loops-dag.yaml in a nested DAG, with an item that exits 1",
    manifest(
        "nested-loop-fail",
        """  - name: main
    dag:
      tasks:
      - {name: outer, template: inner}
      - {name: later, template: echo, depends: outer, arguments: {parameters: [{name: message, value: x}]}}
  - name: inner
    dag:
      tasks:
      - name: B
        template: exit-with
        arguments: {parameters: [{name: code, value: "{{item}}"}]}
        withItems: [0, 1, 0]
  - name: exit-with
    inputs:
      parameters: [{name: code}]
    container: {image: "argoproj/argosay:v2", args: [exit, "{{inputs.parameters.code}}"]}
""",
        ECHO,
    ),
    "Failed",
    {
        "outer": "Failed",
        "outer.B": "Failed",
        "outer.B(0:0)": "Succeeded",
        "outer.B(1:1)": "Failed",
        "outer.B(2:0)": "Succeeded",
        "later": "Omitted",
    },
)

EMPTY_PARAM = Case(
    "empty-loop-in-a-nested-dag",
    "test/e2e/functional_test.go TestLoopEmptyParam: an empty withParam makes the task Skipped with 'Skipped, "
    "empty params' (dag.go executeDAGTask) and the DAG goes on; here in a nested DAG",
    manifest(
        "nested-empty",
        """  - name: main
    dag:
      tasks:
      - name: outer
        template: inner
        arguments: {parameters: [{name: list, value: "[]"}]}
  - name: inner
    inputs:
      parameters: [{name: list}]
    dag:
      tasks:
      - name: none
        template: echo
        arguments: {parameters: [{name: message, value: "{{item}}"}]}
        withParam: "{{inputs.parameters.list}}"
      - name: after
        depends: none
        template: echo
        arguments: {parameters: [{name: message, value: after}]}
""",
        ECHO,
    ),
    "Succeeded",
    {"outer": "Succeeded", "outer.none": "Skipped", "outer.after": "Succeeded"},
    messages={"outer.none": "Skipped, empty params"},
)

NESTED_IN_ITEM = Case(
    "loop-in-a-dag-run-by-a-loop-item",
    "dag.go taskNodeName at two levels: the outer item outer(0:x) is the nested DAG's node, so its looped task's "
    "items are outer(0:x).inner(0:1), each item's {{item}} its own loop's (expandTask substitutes the inner item)",
    manifest(
        "loop-in-loop",
        """  - name: main
    dag:
      tasks:
      - name: outer
        template: inner
        arguments: {parameters: [{name: tag, value: "{{item}}"}]}
        withItems: [x, y]
  - name: inner
    inputs:
      parameters: [{name: tag}]
    dag:
      tasks:
      - name: inner
        template: echo
        arguments: {parameters: [{name: message, value: "{{inputs.parameters.tag}}{{item}}"}]}
        withItems: [1, 2]
""",
        ECHO,
    ),
    "Succeeded",
    {
        "outer": "Succeeded",
        "outer(0:x)": "Succeeded",
        "outer(0:x).inner": "Succeeded",
        "outer(0:x).inner(0:1)": "Succeeded",
        "outer(0:x).inner(1:2)": "Succeeded",
        "outer(1:y)": "Succeeded",
        "outer(1:y).inner": "Succeeded",
        "outer(1:y).inner(0:1)": "Succeeded",
        "outer(1:y).inner(1:2)": "Succeeded",
    },
    args={"outer(1:y).inner(1:2)": ["echo", "y2"]},
)

LOOP_CASES = [LOOP_IN_NESTED_DAG, PARAM_FROM_INPUTS, FAN_IN, FAILED_ITEM, EMPTY_PARAM, NESTED_IN_ITEM]

ONE_JOB = """
  - name: one-job
    inputs:
      parameters:
      - name: msg
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.msg}}"]
"""

PARALLELISM_NESTED_DAG = Case(
    "parallelism-nested-dag",
    "examples/parallelism-nested-dag.yaml: A (parallelism 2) runs at most two of its children DAGs b2, b3, b4 at "
    "once (operator.go checkParallelism, countActiveChildren); every node Succeeded; adapted: alpine "
    "'echo; sleep 10' to argosay echo",
    manifest(
        "parallelism-nested-dag",
        """  - name: main
    dag:
      tasks:
      - {name: a, template: A}
  - name: A
    parallelism: 2
    dag:
      tasks:
      - {name: b1, template: B, arguments: {parameters: [{name: msg, value: "1"}]}}
      - {name: b2, template: B, depends: b1, arguments: {parameters: [{name: msg, value: "2"}]}}
      - {name: b3, template: B, depends: b1, arguments: {parameters: [{name: msg, value: "3"}]}}
      - {name: b4, template: B, depends: b1, arguments: {parameters: [{name: msg, value: "4"}]}}
      - {name: b5, template: B, depends: "b2 && b3 && b4", arguments: {parameters: [{name: msg, value: "5"}]}}
  - name: B
    inputs:
      parameters: [{name: msg}]
    dag:
      tasks:
      - {name: c1, template: one-job, arguments: {parameters: [{name: msg, value: "{{inputs.parameters.msg}} c1"}]}}
      - name: c2
        template: one-job
        depends: c1
        arguments: {parameters: [{name: msg, value: "{{inputs.parameters.msg}} c2"}]}
""",
        ONE_JOB,
    ),
    "Succeeded",
    {
        "a": "Succeeded",
        **{f"a.b{n}": "Succeeded" for n in range(1, 6)},
        **{f"a.b{n}.c{m}": "Succeeded" for n in range(1, 6) for m in (1, 2)},
    },
    args={"a.b4.c2": ["echo", "4 c2"]},
)

PARALLELISM_NESTED_STEPS = Case(
    "parallelism-nested-steps",
    "examples/parallelism-nested.yaml: each parallel worker is a steps template with parallelism 1 whose looped "
    "step runs its items one at a time; node names from steps.go executeSteps under each item's node; adapted: "
    "the lists to two items each, alpine 'echo; sleep 10' to argosay echo",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: parallelism-nested-
spec:
  arguments:
    parameters:
    - {name: seq-list, value: '["a","b"]'}
    - {name: parallel-list, value: '[1,2]'}
  entrypoint: parallel-worker
  templates:
  - name: parallel-worker
    inputs:
      parameters:
      - name: seq-list
      - name: parallel-list
    steps:
    - - name: parallel-worker
        template: seq-worker
        arguments:
          parameters:
          - {name: seq-list, value: "{{inputs.parameters.seq-list}}"}
          - {name: parallel-id, value: "{{item}}"}
        withParam: "{{inputs.parameters.parallel-list}}"
  - name: seq-worker
    parallelism: 1
    inputs:
      parameters:
      - name: seq-list
      - name: parallel-id
    steps:
    - - name: seq-step
        template: one-job
        arguments:
          parameters:
          - {name: parallel-id, value: "{{inputs.parameters.parallel-id}}"}
          - {name: seq-id, value: "{{item}}"}
        withParam: "{{inputs.parameters.seq-list}}"
  - name: one-job
    inputs:
      parameters:
      - name: seq-id
      - name: parallel-id
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.parallel-id}} {{inputs.parameters.seq-id}}"]
""",
    "Succeeded",
    {
        "[0]": "Succeeded",
        **{f"[0].parallel-worker({i}:{i + 1})": "Succeeded" for i in (0, 1)},
        **{f"[0].parallel-worker({i}:{i + 1})[0]": "Succeeded" for i in (0, 1)},
        **{
            f"[0].parallel-worker({i}:{i + 1})[0].seq-step({j}:{s})": "Succeeded"
            for i in (0, 1)
            for j, s in enumerate("ab")
        },
    },
    args={"[0].parallel-worker(1:2)[0].seq-step(1:b)": ["echo", "2 b"]},
)

PARALLELISM_WITH_FAILURE = Case(
    "parallelism-nested-dag-failure",
    "dag.go assessDAGPhase with a nested DAG of parallelism 1 (operator.go checkParallelism only delays its tasks): "
    "its failing leaf fails it, the outer task fails and its dependant is Omitted, as without parallelism",
    manifest(
        "parallelism-fail",
        """  - name: main
    dag:
      tasks:
      - {name: outer, template: inner}
      - {name: later, template: echo, depends: outer, arguments: {parameters: [{name: message, value: x}]}}
  - name: inner
    parallelism: 1
    dag:
      tasks:
      - {name: ok, template: echo, arguments: {parameters: [{name: message, value: ok}]}}
      - {name: broken, template: intentional-fail, depends: ok}
""",
        ECHO,
        FAIL,
    ),
    "Failed",
    {"outer": "Failed", "outer.ok": "Succeeded", "outer.broken": "Failed", "later": "Omitted"},
)

PARALLELISM_LOOP = Case(
    "parallelism-nested-dag-loop",
    "docs/fields.md Template.parallelism ('limits the max total parallel pods that can execute at the same time "
    "within the boundaries of this template invocation'): a nested DAG of parallelism 1 runs its loop's items "
    "one at a time (countActiveChildren counts Pod nodes of its boundary), each Succeeded, the fan-in in order",
    manifest(
        "parallelism-loop",
        """  - name: main
    dag:
      tasks:
      - {name: outer, template: inner}
  - name: inner
    parallelism: 1
    dag:
      tasks:
      - name: fan
        template: produce
        arguments: {parameters: [{name: value, value: "{{item}}"}]}
        withItems: [a, b, c]
      - name: join
        depends: fan
        template: echo
        arguments: {parameters: [{name: message, value: "{{tasks.fan.outputs.parameters.out}}"}]}
""",
        ECHO,
        PRODUCE,
    ),
    "Succeeded",
    {
        "outer": "Succeeded",
        "outer.fan": "Succeeded",
        "outer.fan(0:a)": "Succeeded",
        "outer.fan(1:b)": "Succeeded",
        "outer.fan(2:c)": "Succeeded",
        "outer.join": "Succeeded",
    },
    args={"outer.join": ["echo", '["a","b","c"]']},
)

PARALLELISM_CASES = [
    PARALLELISM_NESTED_DAG,
    PARALLELISM_NESTED_STEPS,
    PARALLELISM_WITH_FAILURE,
    PARALLELISM_LOOP,
]

CASES = [*LOOP_CASES, *PARALLELISM_CASES]

EXIT_WITH = """
  - name: exit-with
    inputs:
      parameters: [{name: code}]
    container: {image: "argoproj/argosay:v2", args: [exit, "{{inputs.parameters.code}}"]}
"""
RETRY_SOURCE = (
    "operator.go executeTemplate: a template with a retryStrategy (its own, else spec.retryStrategy: "
    "retryStrategy()) gets a Retry node whose children <node>(0), <node>(1)... are whole runs of the template, "
    "{{retries}} their number (SubstituteParams with localParams); processNodeRetries: "
)


def retried_inner(strategy: str, code: str) -> str:
    """A DAG whose task ``outer`` runs ``inner``, a DAG of one task exiting ``code``, retried by ``strategy``."""
    return manifest(
        "retry-dag",
        f"""  - name: main
    dag:
      tasks:
      - {{name: outer, template: inner}}
      - {{name: later, template: echo, depends: outer, arguments: {{parameters: [{{name: message, value: x}}]}}}}
  - name: inner
    retryStrategy: {strategy}
    dag:
      tasks:
      - name: x
        template: exit-with
        arguments: {{parameters: [{{name: code, value: "{code}"}}]}}
""",
        ECHO,
        EXIT_WITH,
    )


RETRY_EXHAUSTED = Case(
    "retried-nested-dag-exhausts-its-limit",
    RETRY_SOURCE + "each failed run is retried (OnFailure) until len(children) > limit, then the Retry node "
    "takes the last run's phase with 'No more retries left' (test/e2e/retry_test.go TestRetryLimit's message)",
    retried_inner("{limit: 2}", "1"),
    "Failed",
    {
        "outer": "Failed",
        "outer(0)": "Failed",
        "outer(0).x": "Failed",
        "outer(1)": "Failed",
        "outer(1).x": "Failed",
        "outer(2)": "Failed",
        "outer(2).x": "Failed",
        "later": "Omitted",
    },
    messages={"outer": "No more retries left"},
)

RETRY_SUCCEEDS = Case(
    "retried-nested-dag-succeeds-on-its-second-run",
    RETRY_SOURCE
    + "the second run succeeds, so the Retry node is Succeeded (lastChildNode not FailedOrError) and "
    "the DAG goes on; the first run's task stays Failed",
    retried_inner("{limit: 3}", "{{= retries == '0' ? '1' : '0' }}"),
    "Succeeded",
    {
        "outer": "Succeeded",
        "outer(0)": "Failed",
        "outer(0).x": "Failed",
        "outer(1)": "Succeeded",
        "outer(1).x": "Succeeded",
        "later": "Succeeded",
    },
)

RETRY_POLICY = Case(
    "retried-nested-dag-policy-on-error",
    RETRY_SOURCE
    + "retryPolicy OnError does not retry a Failed run (retryOnFailed false): the Retry node takes "
    "its phase and message at once",
    retried_inner("{limit: 3, retryPolicy: OnError}", "1"),
    "Failed",
    {"outer": "Failed", "outer(0)": "Failed", "outer(0).x": "Failed", "later": "Omitted"},
    messages={"outer": "task 'x' failed"},
)

RETRY_EXPRESSION = Case(
    "retried-nested-dag-expression-false",
    RETRY_SOURCE
    + "an expression alone makes the policy Always (RetryPolicyActual); lastRetry.status is the run's "
    "phase, so 'lastRetry.status == \"Error\"' is false after a Failed run: 'retryStrategy.expression evaluated to "
    "false'",
    retried_inner("{limit: 3, expression: 'lastRetry.status == \"Error\"'}", "1"),
    "Failed",
    {"outer": "Failed", "outer(0)": "Failed", "outer(0).x": "Failed", "later": "Omitted"},
    messages={"outer": "retryStrategy.expression evaluated to false"},
)

RETRY_STEPS_ENTRY = Case(
    "workflow-retry-strategy-on-a-steps-entrypoint",
    RETRY_SOURCE
    + "spec.retryStrategy reaches the steps entrypoint (its Retry node is the workflow's root, the "
    "runs (0), (1) with groups (n)[0]) and the container too, each pod node retried as well; the workflow takes "
    "'No more retries left' (test/e2e/retry_test.go TestRetryLimit)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: retry-steps-
spec:
  entrypoint: main
  retryStrategy: {limit: 1}
  templates:
  - name: main
    steps:
    - - {name: a, template: fail}
  - name: fail
    container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
""",
    "Failed",
    {
        "(0)": "Failed",
        "(0)[0]": "Failed",
        "(0)[0].a": "Failed",
        "(1)": "Failed",
        "(1)[0]": "Failed",
        "(1)[0].a": "Failed",
    },
    messages={"(0)[0]": "child '(0)[0].a' failed"},
    attempts={"(0)[0].a": 2, "(1)[0].a": 2},
)

RETRY_DAG_ENTRY = Case(
    "retried-dag-entrypoint-succeeds",
    RETRY_SOURCE
    + "a DAG entrypoint with its own retryStrategy is a Retry root whose first run succeeds: one run "
    "(0), its tasks (0).<task> (dag.go taskNodeName under the run's node)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: retry-dag-entry-
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {limit: 2}
    dag:
      tasks:
      - {name: a, template: echo, arguments: {parameters: [{name: message, value: "run {{retries}}"}]}}
      - {name: b, template: echo, depends: a, arguments: {parameters: [{name: message, value: b}]}}
"""
    + ECHO,
    "Succeeded",
    {"(0)": "Succeeded", "(0).a": "Succeeded", "(0).b": "Succeeded"},
    args={"(0).a": ["echo", "run 0"]},
)

RETRY_CASES = [
    RETRY_EXHAUSTED,
    RETRY_SUCCEEDS,
    RETRY_POLICY,
    RETRY_EXPRESSION,
    RETRY_STEPS_ENTRY,
    RETRY_DAG_ENTRY,
]

CASES += RETRY_CASES
