"""DAG scheduling as Argo decides it: depends, when, continueOn, failFast, retries, Omitted/Skipped, Error vs Failed.

Each case is a workflow from Argo's e2e tests, examples or docs (``source`` names it and says what was
adapted), with the workflow and node phases Argo gives it.
"""

from __future__ import annotations

from tests.conformance.case import Case

DAG_DEPENDS = Case(
    "dag-depends",
    "test/e2e/functional/dag-depends.yaml, asserted by test/e2e/functional_test.go TestDAGDepends",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-diamond-
spec:
  entrypoint: diamond
  templates:
    - name: diamond
      dag:
        tasks:
          - {name: A, template: pass}
          - {name: B, depends: "A", template: pass}
          - {name: C, depends: "A", template: fail}
          - {name: should-execute-1, depends: "A && C.Completed", template: pass}
          - {name: should-execute-2, depends: "B || C", template: pass}
          - {name: should-not-execute, depends: "B && C", template: pass}
          - {name: should-execute-3, depends: "should-execute-2.Succeeded || should-not-execute", template: pass}
    - name: pass
      container: {image: "argoproj/argosay:v2"}
    - name: fail
      container: {image: "argoproj/argosay:v2", args: ["exit 1"]}
""",
    "Succeeded",
    {
        "A": "Succeeded",
        "B": "Succeeded",
        "C": "Failed",
        "should-execute-1": "Succeeded",
        "should-execute-2": "Succeeded",
        "should-not-execute": "Omitted",
        "should-execute-3": "Succeeded",
    },
    messages={"should-not-execute": "omitted: depends condition not met"},  # dag.go executeDAGTask
)

CONTINUE_ON_FAILED_DAG = Case(
    "continue-on-failed-dag",
    "test/e2e/functional_test.go TestContinueOnFailDag; adapted: B's nested DAG (one failing task) is that "
    "failing container itself, which the local executor runs",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: continue-on-failed-dag
spec:
  entrypoint: workflow-ignore
  parallelism: 2
  templates:
    - name: workflow-ignore
      dag:
        failFast: false
        tasks:
          - {name: A, template: whalesay}
          - {name: B, template: whalesplosion, continueOn: {failed: true}, dependencies: [A]}
          - {name: C, template: whalesay, dependencies: [A]}
          - {name: D, template: whalesay, dependencies: [B, C]}
    - name: whalesay
      container: {imagePullPolicy: IfNotPresent, image: "argoproj/argosay:v2"}
    - name: whalesplosion
      container: {imagePullPolicy: IfNotPresent, image: "argoproj/argosay:v2", command: [sh, -c, "exit 1"]}
""",
    "Succeeded",
    {"A": "Succeeded", "B": "Failed", "C": "Succeeded", "D": "Succeeded"},
)

FAIL_FAST_OFF = Case(
    "dag-disable-failFast",
    "examples/dag-disable-failFast.yaml with docs/walk-through/dag.md: failFast false runs every branch to "
    "completion, the DAG then fails; adapted: cowsay and 'sleep 30' are plain echoes",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-primay-branch-
spec:
  entrypoint: statis
  templates:
  - name: a
    container: {image: "docker/whalesay:latest", command: [sh, -c], args: ["echo hello world"]}
  - name: b
    retryStrategy: {limit: "2"}
    container: {image: "alpine:latest", command: [sh, -c], args: ["echo haha"]}
  - name: c
    retryStrategy: {limit: "3"}
    container: {image: "alpine:latest", command: [sh, -c], args: ["echo intentional failure; exit 2"]}
  - name: d
    container: {image: "docker/whalesay:latest", command: [sh, -c], args: ["echo hello world"]}
  - name: statis
    dag:
      failFast: false
      tasks:
      - {name: A, template: a}
      - {name: B, depends: "A", template: b}
      - {name: C, depends: "A", template: c}
      - {name: D, depends: "B", template: d}
      - {name: E, depends: "D", template: d}
""",
    "Failed",
    {"A": "Succeeded", "B": "Succeeded", "C": "Failed", "D": "Succeeded", "E": "Succeeded"},
    attempts={"C": 4},  # retryStrategy.limit 3: the first attempt and three retries
)

OMITTED_LEAF_INHERITS = Case(
    "omitted-leaf-inherits-failure",
    "dag.go assessDAGPhase: an omitted task inherits its parents' phase, Failed preferred, so the DAG fails "
    "though its only leaf never ran; docs/enhanced-depends-logic.md for '.Succeeded'",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: omitted-leaf-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: flaky, template: fail, continueOn: {failed: true}}
          - {name: celebrate, template: pass, depends: "flaky.Succeeded"}
    - name: pass
      container: {image: "argoproj/argosay:v2"}
    - name: fail
      container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
""",
    "Failed",
    {"flaky": "Failed", "celebrate": "Omitted"},
)

WHEN_EXPRESSION_TAGS = Case(
    "when-expression-tags",
    "docs/variables.md (expression tags) with util/template/expression_template.go (%v writes 'false') and "
    "steps.go shouldExecute (govaluate's boolean); dag.go executeDAGTask: 'when ... evaluated false' is Skipped",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: when-tags-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: x, value: b}]
  templates:
    - name: main
      inputs:
        parameters: [{name: x}]
      dag:
        tasks:
          - {name: never, template: pass, when: "{{= false }}"}
          - {name: not-a, template: pass, when: "{{=inputs.parameters.x == 'a'}}"}
          - {name: is-b, template: pass, when: "{{=inputs.parameters.x == 'b'}}"}
          - {name: after-skip, template: pass, depends: "never"}
    - name: pass
      container: {image: "argoproj/argosay:v2"}
""",
    "Succeeded",
    {"never": "Skipped", "not-a": "Skipped", "is-b": "Succeeded", "after-skip": "Succeeded"},
    messages={"never": "when 'false' evaluated false", "not-a": "when 'false' evaluated false"},
)

WHEN_ERROR = Case(
    "when-error-is-error",
    "dag.go executeDAGTask: a 'when' that cannot be evaluated makes the task Error (govaluate compares a "
    "string with a number: never); its dependant is omitted and the DAG inherits Error (assessDAGPhase)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: when-error-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: a, template: say-abc}
          - {name: b, template: say-abc, depends: "a", when: "{{tasks.a.outputs.result}} > 5"}
          - {name: c, template: say-abc, depends: "b"}
    - name: say-abc
      container: {image: alpine, command: [sh, -c, "echo abc"]}
""",
    "Error",
    {"a": "Succeeded", "b": "Error", "c": "Omitted"},
)

WHEN_ERROR_CONTINUED = Case(
    "when-error-continue-on-error",
    "workflow/common/ancestry.go expandDependency: continueOn.error adds 'b.Errored' to a bare dependency, and "
    "assessDAGPhase ignores a target that continues on its phase; the when error as in when-error-is-error",
    WHEN_ERROR.manifest.replace(
        '{name: b, template: say-abc, depends: "a",',
        "{name: b, template: say-abc, continueOn: {error: true}, dependencies: [a],",
    ).replace(
        '{name: c, template: say-abc, depends: "b"}', "{name: c, template: say-abc, dependencies: [b]}"
    ),
    "Succeeded",
    {"a": "Succeeded", "b": "Error", "c": "Succeeded"},
)

RETRY_LIMIT_ZERO = Case(
    "retry-limit-zero",
    "test/e2e/retry_test.go TestRetryLimit: limit 0 runs once and fails; adapted: the template runs as a "
    "task of a DAG entrypoint",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: test-retry-limit}
spec:
  entrypoint: dag
  templates:
    - name: dag
      dag:
        tasks: [{name: main, template: main}]
    - name: main
      retryStrategy:
        limit: 0
        backoff: {duration: 2s, factor: 2, maxDuration: 5m}
      container: {name: main, image: "argoproj/argosay:v2", args: [exit, "1"]}
""",
    "Failed",
    {"main": "Failed"},
    attempts={"main": 1},
)

PARAMETRIZABLE_LIMIT = Case(
    "parametrizable-limit",
    "test/e2e/functional_test.go TestParametrizableLimit: retryStrategy.limit from an input, two attempts, "
    "Failed; adapted: the entrypoint is a DAG whose input comes from spec.arguments (operator.go) and is "
    "passed on to the container",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: param-limit}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: limit, value: "1"}]
  templates:
  - name: main
    inputs:
      parameters: [{name: limit}]
    dag:
      tasks:
        - name: whalesay
          template: whalesay
          arguments:
            parameters: [{name: limit, value: "{{inputs.parameters.limit}}"}]
  - name: whalesay
    inputs:
      parameters: [{name: limit}]
    retryStrategy:
      limit: "{{inputs.parameters.limit}}"
    container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
""",
    "Failed",
    {"whalesay": "Failed"},
    attempts={"whalesay": 2},
)

RETRY_EXPRESSION_DECIDES = Case(
    "retry-expression-without-policy",
    "docs/retries.md (Conditional retries) with RetryStrategy.RetryPolicyActual: an expression and no policy "
    "is Always, and the expression decides: exit 65 is not retried",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: retry-expression-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks: [{name: bad-input, template: exit-65}]
    - name: exit-65
      retryStrategy: {limit: "3", expression: "asInt(lastRetry.exitCode) != 65"}
      container: {image: "argoproj/argosay:v2", args: [exit, "65"]}
""",
    "Failed",
    {"bad-input": "Failed"},
    attempts={"bad-input": 1},
)

PARAMETRIZABLE_DEADLINE = Case(
    "parametrizable-deadline",
    "test/e2e/functional_test.go TestParametrizableAds: activeDeadlineSeconds from an input kills the pod, "
    "Failed with Kubernetes' deadline message; adapted: a DAG entrypoint, a 1 s deadline",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: param-ads}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: ads, value: "1"}]
  templates:
  - name: main
    dag:
      tasks:
        - name: whalesay
          template: whalesay
          arguments:
            parameters: [{name: ads, value: "{{workflow.parameters.ads}}"}]
  - name: whalesay
    inputs:
      parameters: [{name: ads}]
    activeDeadlineSeconds: "{{inputs.parameters.ads}}"
    container: {image: "argoproj/argosay:v2", args: [sleep, 10s]}
""",
    "Failed",
    {"whalesay": "Failed"},
    messages={"whalesay": "Pod was active on the node longer than the specified deadline"},
)

CASES = [
    DAG_DEPENDS,
    CONTINUE_ON_FAILED_DAG,
    FAIL_FAST_OFF,
    OMITTED_LEAF_INHERITS,
    WHEN_EXPRESSION_TAGS,
    WHEN_ERROR,
    WHEN_ERROR_CONTINUED,
    RETRY_LIMIT_ZERO,
    PARAMETRIZABLE_LIMIT,
    RETRY_EXPRESSION_DECIDES,
    PARAMETRIZABLE_DEADLINE,
]
