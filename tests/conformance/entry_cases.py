"""Entrypoint kinds, the workflow's ``retryStrategy``, ``globalName`` outputs and ``suspend`` with a duration.

A container, script or suspend entrypoint is one node, the workflow's, whose phase and message the workflow takes
(operator.go ``operate``: ``executeTemplate(wf.Name, ...)``, ``workflowStatus`` from ``node.Phase``); the record
names it after the entrypoint template. ``spec.retryStrategy`` is the retryStrategy of every template without its
own (operator.go ``retryStrategy()``). An output parameter's ``globalName`` sets
``{{workflow.outputs.parameters.X}}`` for what runs after (operator.go ``addParamToGlobalScope``). A suspend node
with a ``duration`` succeeds once it has passed (operator.go ``executeSuspend``). Each case says where it is from.
"""

from __future__ import annotations

from tests.conformance.case import Case

HEADER = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: entry-
spec:
"""
SAY = 'image: "argoproj/argosay:v2"'
EXIT_1 = f"container: {{{SAY}, args: [exit, '1']}}"
GLOBAL_OUTPUT = f"""  - name: global-output
    container: {{{SAY}, args: [echo, "{{{{inputs.parameters.text}}}}", /tmp/hello_world.txt]}}
    inputs: {{parameters: [{{name: text, value: hello world}}]}}
    outputs:
      parameters:
      - name: hello-param
        valueFrom: {{path: /tmp/hello_world.txt}}
        globalName: my-global-param
  - name: consume-global-param
    inputs: {{parameters: [{{name: param, value: "{{{{workflow.outputs.parameters.my-global-param}}}}"}}]}}
    container: {{{SAY}, args: [echo, "{{{{inputs.parameters.param}}}}"]}}
"""


def workflow(body: str) -> str:
    return HEADER + body


ENTRY_CASES = [
    Case(
        "entry-container-hello-world",
        "examples/hello-world.yaml: a container template as the entrypoint; test/e2e smoke tests wait for it "
        "ToBeSucceeded; the workflow's single node takes the entrypoint's phase",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    container: {{{SAY}, args: [echo, hello world]}}
"""),
        "Succeeded",
        {"main": "Succeeded"},
        args={"main": ["echo", "hello world"]},
    ),
    Case(
        "entry-container-failed-main",
        "test/e2e/functional/failed-main.yaml with failed_main_test.go (WaitForWorkflow(fixtures.ToBeFailed)): "
        "a container entrypoint that exits 1 fails the workflow",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    {EXIT_1}
"""),
        "Failed",
        {"main": "Failed"},
        messages={"main": "exit code 1"},
    ),
    Case(
        "entry-script",
        "examples/scripts-python.yaml's script template as the entrypoint (Hera's Workflow(entrypoint=...) with "
        "one @script): operator.go executeScript runs it as the workflow's pod node",
        workflow("""  entrypoint: gen
  templates:
  - name: gen
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        print(7)
"""),
        "Succeeded",
        {"gen": "Succeeded"},
    ),
    Case(
        "entry-arguments-parameters",
        "examples/arguments-parameters.yaml (docs/walk-through/parameters.md): spec.arguments fill the "
        "container entrypoint's inputs; -p overrides them",
        workflow(f"""  entrypoint: print-message
  arguments: {{parameters: [{{name: message, value: hello world}}]}}
  templates:
  - name: print-message
    inputs: {{parameters: [{{name: message}}]}}
    container: {{{SAY}, args: [echo, "{{{{inputs.parameters.message}}}}"]}}
"""),
        "Succeeded",
        {"print-message": "Succeeded"},
        args={"print-message": ["echo", "goodbye world"]},
        parameters={"message": "goodbye world"},
    ),
    Case(
        "entry-container-retried",
        "examples/retry-container.yaml (a container entrypoint with its own retryStrategy; docs/retries.md): "
        "the entrypoint's retries apply, limit 2 gives three attempts",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    retryStrategy: {{limit: 2}}
    {EXIT_1}
"""),
        "Failed",
        {"main": "Failed"},
        attempts={"main": 3},
    ),
]

RETRY_CASES = [
    Case(
        "workflow-retry-strategy-on-the-entry-container",
        "Hera's retry_workflow example (examples/workflows/upstream: 'as the RetryStrategy is on the Workflow "
        "itself, it will apply by default to all templates'); operator.go retryStrategy() returns "
        "woc.execWf.Spec.RetryStrategy for a template without its own",
        workflow(f"""  entrypoint: main
  retryStrategy: {{limit: 2}}
  templates:
  - name: main
    {EXIT_1}
"""),
        "Failed",
        {"main": "Failed"},
        attempts={"main": 3},
    ),
    Case(
        "workflow-retry-strategy-yields-to-the-template-s",
        "operator.go retryStrategy(): a template's own retryStrategy wins over spec.retryStrategy",
        workflow(f"""  entrypoint: main
  retryStrategy: {{limit: 3}}
  templates:
  - name: main
    retryStrategy: {{limit: 1}}
    {EXIT_1}
"""),
        "Failed",
        {"main": "Failed"},
        attempts={"main": 2},
    ),
    Case(
        "workflow-retry-strategy-policy-on-error",
        "operator.go processNodeRetries with spec.retryStrategy's policy: OnError does not retry a Failed node",
        workflow(f"""  entrypoint: main
  retryStrategy: {{limit: 2, retryPolicy: OnError}}
  templates:
  - name: main
    {EXIT_1}
"""),
        "Failed",
        {"main": "Failed"},
        attempts={"main": 1},
    ),
    Case(
        "workflow-retry-strategy-until-success",
        "docs/retries.md with spec.retryStrategy: {{retries}} (docs/variables.md) is the attempt's number; the "
        "third attempt succeeds, and so does the workflow",
        workflow("""  entrypoint: main
  retryStrategy: {limit: 3}
  templates:
  - name: main
    container:
      image: python:3.12
      command: [python, -c, "import sys; sys.exit(0 if {{retries}} >= 2 else 1)"]
"""),
        "Succeeded",
        {"main": "Succeeded"},
        attempts={"main": 3},
    ),
]

GLOBAL_CASES = [
    Case(
        "global-outputs-steps",
        "examples/global-outputs.yaml: a step's output with globalName is {{workflow.outputs.parameters.X}} in "
        "later steps; adapted: the artifact and the nested consume-globals steps left out",
        workflow(f"""  entrypoint: generate-globals
  templates:
  - name: generate-globals
    steps:
    - - name: generate
        template: global-output
    - - name: consume-global-param
        template: consume-global-param
{GLOBAL_OUTPUT}"""),
        "Succeeded",
        {
            "[0]": "Succeeded",
            "[0].generate": "Succeeded",
            "[1]": "Succeeded",
            "[1].consume-global-param": "Succeeded",
        },
        args={"[1].consume-global-param": ["echo", "hello world"]},
        scope={"workflow.outputs.parameters.my-global-param": "hello world"},
    ),
    Case(
        "global-outputs-dag",
        "examples/global-outputs.yaml as a DAG: dag.go adds each task's outputs to the global scope "
        "(addOutputsToGlobalScope), read by the task that depends on it",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: generate, template: global-output}}
      - {{name: consume, template: consume-global-param, depends: generate}}
{GLOBAL_OUTPUT}"""),
        "Succeeded",
        {"generate": "Succeeded", "consume": "Succeeded"},
        args={"consume": ["echo", "hello world"]},
        scope={"workflow.outputs.parameters.my-global-param": "hello world"},
    ),
    Case(
        "global-outputs-overwritten",
        "operator.go addParamToGlobalScope: a later node's value for the same globalName overwrites "
        "('overwriting %s'); steps run in order",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: first, template: global-output}}
    - - {{name: second, template: global-output, arguments: {{parameters: [{{name: text, value: again}}]}}}}
    - - {{name: consume, template: consume-global-param}}
{GLOBAL_OUTPUT}"""),
        "Succeeded",
        {
            "[0]": "Succeeded",
            "[0].first": "Succeeded",
            "[1]": "Succeeded",
            "[1].second": "Succeeded",
            "[2]": "Succeeded",
            "[2].consume": "Succeeded",
        },
        args={"[2].consume": ["echo", "again"]},
        scope={"workflow.outputs.parameters.my-global-param": "again"},
    ),
    Case(
        "global-outputs-of-a-dag-template",
        "dag.go: a nested dag template's outputs (getTemplateOutputsFromScope, valueFrom.parameter) go to the "
        "global scope too (addOutputsToGlobalScope(node.Outputs)), globalName included",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: inner, template: inner}}
      - {{name: consume, template: consume-outer, depends: inner}}
  - name: inner
    dag:
      tasks:
      - {{name: generate, template: global-output}}
    outputs:
      parameters:
      - name: out
        globalName: outer-param
        valueFrom: {{parameter: "{{{{tasks.generate.outputs.parameters.hello-param}}}}"}}
  - name: consume-outer
    container: {{{SAY}, args: [echo, "{{{{workflow.outputs.parameters.outer-param}}}}"]}}
{GLOBAL_OUTPUT}"""),
        "Succeeded",
        {"inner": "Succeeded", "inner.generate": "Succeeded", "consume": "Succeeded"},
        args={"consume": ["echo", "hello world"]},
        scope={
            "workflow.outputs.parameters.outer-param": "hello world",
            "workflow.outputs.parameters.my-global-param": "hello world",
        },
    ),
]

SUSPEND_CASES = [
    Case(
        "suspend-duration-step",
        "examples/suspend-template.yaml: a suspend step with a duration resumes by itself (operator.go "
        "executeSuspend: 'auto resuming node'); adapted: the approval step (no duration) left out, 20 s to 1",
        workflow(f"""  entrypoint: suspend
  templates:
  - name: suspend
    steps:
    - - {{name: delay, template: delay}}
    - - {{name: release, template: release}}
  - name: delay
    suspend: {{duration: "1"}}
  - name: release
    container: {{{SAY}, args: [echo, released]}}
"""),
        "Succeeded",
        {"[0]": "Succeeded", "[0].delay": "Succeeded", "[1]": "Succeeded", "[1].release": "Succeeded"},
    ),
    Case(
        "suspend-duration-dag-task",
        "examples/suspend-template.yaml as a DAG task with Go duration text (parseStringToDuration: "
        "time.ParseDuration when not whole seconds); the task after it runs",
        workflow(f"""  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: delay, template: delay}}
      - {{name: release, template: release, depends: delay}}
  - name: delay
    suspend: {{duration: 100ms}}
  - name: release
    container: {{{SAY}, args: [echo, released]}}
"""),
        "Succeeded",
        {"delay": "Succeeded", "release": "Succeeded"},
    ),
    Case(
        "suspend-entrypoint-with-input-duration",
        "operator.go: a suspend entrypoint is the workflow's node (executeTemplate -> executeSuspend); its "
        "duration is substituted from its inputs like any template field (common.ProcessArgs)",
        workflow("""  entrypoint: wait
  arguments: {parameters: [{name: wait, value: "0"}]}
  templates:
  - name: wait
    inputs: {parameters: [{name: wait}]}
    suspend: {duration: "{{inputs.parameters.wait}}"}
"""),
        "Succeeded",
        {"wait": "Succeeded"},
    ),
    Case(
        "suspend-duration-unparsable",
        "operator.go executeSuspend returns parseStringToDuration's error ('unable to parse %s as a duration') "
        "and executeTemplate marks the node Error; the workflow takes its phase",
        workflow("""  entrypoint: wait
  arguments: {parameters: [{name: wait, value: soon}]}
  templates:
  - name: wait
    inputs: {parameters: [{name: wait}]}
    suspend: {duration: "{{inputs.parameters.wait}}"}
"""),
        "Error",
        {"wait": "Error"},
        messages={"wait": "unable to parse soon as a duration"},
    ),
    Case(
        "suspend-ended-by-the-workflow-deadline",
        "operator.go failSuspendedAndPendingNodesAfterDeadlineOrShutdown: past the workflow's deadline an active "
        "suspend node is Failed, 'Step exceeded its deadline'",
        workflow("""  entrypoint: wait
  activeDeadlineSeconds: 1
  templates:
  - name: wait
    suspend: {duration: 1h}
"""),
        "Failed",
        {"wait": "Failed"},
        messages={"wait": "Step exceeded its deadline"},
    ),
]

CASES = [*ENTRY_CASES, *RETRY_CASES, *GLOBAL_CASES, *SUSPEND_CASES]
