"""What tasks read from each other as Argo resolves it: outputs of Skipped and Omitted tasks and their
defaults, the entrypoint's inputs from ``spec.arguments``, ``outputs.result`` and ``outputs.exitCode``.

Each case is a workflow from Argo's e2e tests, examples or docs (``source`` names it and says what was
adapted), with the workflow and node phases Argo gives it and, where the source checks one, the value a
task received.
"""

from __future__ import annotations

from tests.conformance.case import Case

SKIPPED_PRODUCER_DEFAULT = Case(
    "dag-skipped-producer-default",
    "test/e2e/functional/dag-skipped-producer-default.yaml; workflow/controller/dag_test.go "
    "TestDAGSkippedOutputDefault: the skipped producer's valueFrom.default reaches the consumer (scope.go "
    "addSkippedOutputParamToScope)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-skipped-producer-default-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: producer
            template: produce
            when: "false" # -> Skipped, produces no real output
          - name: consumer
            template: consume
            depends: "producer.Succeeded || producer.Skipped"
            arguments:
              parameters:
                - name: in
                  value: "{{tasks.producer.outputs.parameters.msg}}"
    - name: produce
      outputs:
        parameters:
          - name: msg
            valueFrom:
              path: /tmp/out.txt
              default: "hello-from-producer" # <- used when the node is skipped/omitted
      container:
        image: argoproj/argosay:v2
        args: ["echo", "real-value", "/tmp/out.txt"]
    - name: consume
      inputs:
        parameters:
          - name: in
      container:
        image: argoproj/argosay:v2
        args: ["echo", "consumer got: [{{inputs.parameters.in}}]"]
""",
    "Succeeded",
    {"producer": "Skipped", "consumer": "Succeeded"},
    args={"consumer": ["echo", "consumer got: [hello-from-producer]"]},
)

SKIPPED_CONSUMER_DEFAULT = Case(
    "dag-skipped-consumer-default",
    "test/e2e/functional/dag-skipped-consumer-default.yaml; workflow/controller/dag_test.go "
    "TestDAGSkippedInputDefaultUsed: a reference to an absent optional gives way to the consumer's input "
    "default (scope.go dropSkippedDefaultedArgs)",
    SKIPPED_PRODUCER_DEFAULT.manifest.replace(
        '              default: "hello-from-producer" # <- used when the node is skipped/omitted\n', ""
    ).replace(
        "          - name: in\n      container",
        '          - name: in\n            default: "fallback-from-input"\n      container',
    ),
    "Succeeded",
    {"producer": "Skipped", "consumer": "Succeeded"},
    args={"consumer": ["echo", "consumer got: [fallback-from-input]"]},
)

SKIPPED_OUTPUT_REF = Case(
    "dag-skipped-output-ref",
    "test/e2e/functional/dag-skipped-output-ref.yaml; workflow/controller/dag_test.go TestDAGSkippedOutputRef: "
    "neither default, so the absent optional fails stage-c terminally as Error; the entrypoint's input "
    "run-stage-b comes from spec.arguments (operator.go runs the entrypoint with them)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-skipped-output-ref-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: run-stage-b
        value: "false"
  templates:
    - name: main
      inputs:
        parameters:
          - name: run-stage-b
      dag:
        tasks:
          - name: stage-a
            template: stage-a
          - name: stage-b
            template: stage-b
            when: "\\"{{inputs.parameters.run-stage-b}}\\" == \\"true\\""
          - name: stage-c
            template: stage-c
            depends: "stage-a && (stage-b || stage-b.Skipped)"
            arguments:
              parameters:
                - name: message-from-a
                  value: "{{tasks.stage-a.outputs.parameters.output-message}}"
                - name: message-from-b
                  value: "{{tasks.stage-b.outputs.parameters.output-message}}"
    - name: stage-a
      outputs:
        parameters:
          - name: output-message
            valueFrom:
              path: /tmp/output.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "hello from stage A", "/tmp/output.txt"]
    - name: stage-b
      outputs:
        parameters:
          - name: output-message
            valueFrom:
              path: /tmp/output.txt
      container:
        image: argoproj/argosay:v2
        args: ["echo", "hello from stage B", "/tmp/output.txt"]
    - name: stage-c
      inputs:
        parameters:
          - name: message-from-a
          - name: message-from-b
      container:
        image: argoproj/argosay:v2
        args: ["echo", "stage-c received: [{{inputs.parameters.message-from-a}}] and [{{inputs.parameters.message-from-b}}]"]
""",
    "Error",
    {"stage-a": "Succeeded", "stage-b": "Skipped", "stage-c": "Error"},
    messages={"stage-b": 'when \'"false" == "true"\' evaluated false', "stage-c": "absent optional"},
)

SKIPPED_OUTPUT_REF_RUN = Case(
    "dag-skipped-output-ref-run",
    "test/e2e/functional/dag-skipped-output-ref.yaml with run-stage-b=true (-p), as operator.go passes the "
    "workflow's arguments to the entrypoint: every stage runs and stage-c reads both outputs",
    SKIPPED_OUTPUT_REF.manifest,
    "Succeeded",
    {"stage-a": "Succeeded", "stage-b": "Succeeded", "stage-c": "Succeeded"},
    args={"stage-c": ["echo", "stage-c received: [hello from stage A] and [hello from stage B]"]},
    parameters={"run-stage-b": "true"},
)

OMITTED_OUTPUT_REF = Case(
    "dag-omitted-output-ref",
    "test/e2e/functional/dag-omitted-output-ref.yaml; workflow/controller/dag_test.go (the omitted twin of "
    "TestDAGSkippedOutputRef): an Omitted producer's output is an absent optional too",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-omitted-output-ref-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: stage-a
            template: stage-a
          - name: stage-b
            template: stage-b
            depends: "stage-a.Failed"
          - name: stage-c
            template: stage-c
            depends: "stage-a && (stage-b || stage-b.Omitted)"
            arguments:
              parameters:
                - name: message-from-a
                  value: "{{tasks.stage-a.outputs.parameters.output-message}}"
                - name: message-from-b
                  value: "{{tasks.stage-b.outputs.parameters.output-message}}"
"""
    + SKIPPED_OUTPUT_REF.manifest[SKIPPED_OUTPUT_REF.manifest.index("    - name: stage-a\n      outputs") :],
    "Error",
    {"stage-a": "Succeeded", "stage-b": "Omitted", "stage-c": "Error"},
    messages={"stage-c": "absent optional"},
)

WHEN_EXPR_SKIP = Case(
    "dag-when-expr-skip",
    "test/e2e/functional/dag-when-expr-skip.yaml; workflow/controller/dag_test.go TestDAGWhenExprSkipEval: "
    "B's when tag is false, B is Skipped and its arguments are never evaluated",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-when-expr-skip-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: data
        value: ''
  templates:
    - name: main
      dag:
        tasks:
          - name: A
            template: echo
            arguments:
              parameters:
                - name: message
                  value: A
          - name: B
            dependencies: [A]
            when: "{{= workflow.parameters.data != '' }}"
            template: echo
            arguments:
              parameters:
                - name: message
                  value: "{{= jsonpath(workflow.parameters.data, '$.id') }}"
    - name: echo
      inputs:
        parameters:
          - name: message
      container:
        image: argoproj/argosay:v2
        args: ["echo", "{{inputs.parameters.message}}"]
""",
    "Succeeded",
    {"A": "Succeeded", "B": "Skipped"},
)

EXIT_CODE_OUTPUT = Case(
    "exit-code-output-variable",
    "examples/exit-code-output-variable.yaml (docs/variables.md: tasks.<NAME>.outputs.exitCode); adapted: a "
    "DAG, and the failing script a container; continueOn.failed lets the DAG succeed (assessDAGPhase)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: exit-code-output-variable-
spec:
  entrypoint: exit-code-output-variable
  templates:
    - name: exit-code-output-variable
      dag:
        tasks:
          - name: failing-container
            template: failing-container
            continueOn:
              failed: true
          - name: echo-container
            template: echo-container
            dependencies: [failing-container]
            arguments:
              parameters:
                - name: exitCode
                  value: "{{tasks.failing-container.outputs.exitCode}}"
    - name: failing-container
      container:
        image: alpine:3.6
        command: [sh, -c]
        args: ["exit 123"]
    - name: echo-container
      inputs:
        parameters:
        - name: exitCode
      container:
        image: alpine:3.6
        command: [sh, -c]
        args: ["echo \\"Exit code was: {{inputs.parameters.exitCode}}\\""]
""",
    "Succeeded",
    {"failing-container": "Failed", "echo-container": "Succeeded"},
    args={"echo-container": ['echo "Exit code was: 123"']},
)

EXIT_CODE_ZERO = Case(
    "exit-code-zero",
    "test/e2e/functional_test.go TestExitCodePNSSleep: a finished pod's outputs.exitCode is '0'; adapted: a "
    "DAG task, and no sleep",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: cond}
spec:
  entrypoint: conditional-example
  templates:
  - name: conditional-example
    dag:
      tasks: [{name: print-hello, template: whalesay}]
  - name: whalesay
    container: {image: "argoproj/argosay:v2", args: [sleep, 0s]}
""",
    "Succeeded",
    {"print-hello": "Succeeded"},
    scope={"tasks.print-hello.outputs.exitCode": "0"},
)

OUTPUT_RESULT = Case(
    "container-outputs-result",
    "docs/variables.md: tasks.<NAME>.outputs.result is a container's stdout; executor.go CaptureScriptResult "
    "trims one trailing newline and reads stdout only (not stderr)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: result-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: flip, template: flip}
          - {name: heads, template: say, depends: flip, when: "{{tasks.flip.outputs.result}} == heads"}
          - {name: tails, template: say, depends: flip, when: "{{tasks.flip.outputs.result}} == tails"}
    - name: flip
      container: {image: alpine, command: [sh, -c, "echo heads; echo noise >&2"]}
    - name: say
      container: {image: alpine, command: [sh, -c, "echo said"]}
""",
    "Succeeded",
    {"flip": "Succeeded", "heads": "Succeeded", "tails": "Skipped"},
    scope={"tasks.flip.outputs.result": "heads"},
)

FAILED_TASK_OUTPUTS = Case(
    "failed-task-outputs-are-kept",
    "cmd/argoexec/commands/wait.go: after Wait, CaptureScriptResult and SaveParameters run whatever the main "
    "container's exit code (executor.go SaveParameters reads each valueFrom.path), so a Failed task has its "
    "outputs.parameters, result and exitCode; A continues on failure, B reads A's parameter",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: failed-outputs-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: A, template: half, continueOn: {failed: true}}
          - name: B
            template: say
            depends: A
            arguments:
              parameters: [{name: message, value: "{{tasks.A.outputs.parameters.x}}-{{tasks.A.outputs.result}}"}]
    - name: half
      container:
        image: alpine
        command: [sh, -c, "printf partial > $OUT/x; echo said; exit 3"]
        env: [{name: OUT, value: /tmp/out}]
      outputs:
        parameters: [{name: x, valueFrom: {path: /tmp/out/x}}]
    - name: say
      inputs:
        parameters: [{name: message}]
      container: {image: alpine, command: [echo, "{{inputs.parameters.message}}"]}
""",
    "Succeeded",
    {"A": "Failed", "B": "Succeeded"},
    args={"B": ["partial-said"]},
    scope={
        "tasks.A.outputs.parameters.x": "partial",
        "tasks.A.outputs.exitCode": "3",
        "tasks.A.outputs.result": "said",
    },
)

CASES = [
    FAILED_TASK_OUTPUTS,
    SKIPPED_PRODUCER_DEFAULT,
    SKIPPED_CONSUMER_DEFAULT,
    SKIPPED_OUTPUT_REF,
    SKIPPED_OUTPUT_REF_RUN,
    OMITTED_OUTPUT_REF,
    WHEN_EXPR_SKIP,
    EXIT_CODE_OUTPUT,
    EXIT_CODE_ZERO,
    OUTPUT_RESULT,
]
