"""Loops on DAG tasks as Argo runs them: withItems, withSequence, withParam, fan-in, failing and empty loops.

A looped task is a task group node; each item is a node named ``task(index:value)`` (steps.go processItem,
generateNodeName); the group is Succeeded, or its last failed item's phase, once all items are done (dag.go
executeDAGTask); an empty list Skips the task ("Skipped, empty params"); the fan-in of results and output
parameters is a JSON list (operator.go processAggregateNodeOutputs). ``source`` names each case's origin.
"""

from __future__ import annotations

from tests.conformance.case import Case

PRINT = """
  - name: print-message
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}"]
"""

LOOPS_DAG = Case(
    "loops-dag",
    "examples/loops-dag.yaml; adapted: busybox echo is argosay echo",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-dag-
spec:
  entrypoint: loops-dag
  templates:
  - name: loops-dag
    dag:
      tasks:
      - name: A
        template: print-message
        arguments:
          parameters:
          - {name: message, value: A}
      - name: B
        depends: "A"
        template: print-message
        arguments:
          parameters:
          - {name: message, value: "{{item}}"}
        withItems:
        - foo
        - bar
        - baz
      - name: C
        depends: "B"
        template: print-message
        arguments:
          parameters:
          - {name: message, value: C}
"""
    + PRINT,
    "Succeeded",
    {
        "A": "Succeeded",
        "B": "Succeeded",
        "B(0:foo)": "Succeeded",
        "B(1:bar)": "Succeeded",
        "B(2:baz)": "Succeeded",
        "C": "Succeeded",
    },  # fmt: skip
    args={"B(1:bar)": ["echo", "bar"]},
)

LOOPS_MAPS = Case(
    "loops-maps",
    "examples/loops-maps.yaml (docs/walk-through/loops.md): {{item.image}} and {{item.tag}}; the node name "
    "holds the sorted key:value pairs (processItem); adapted: steps to a DAG, cat /etc/os-release to an echo",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-maps-
spec:
  entrypoint: loop-map-example
  templates:
  - name: loop-map-example
    dag:
      tasks:
      - name: test-linux
        template: cat-os-release
        arguments:
          parameters:
          - {name: image, value: "{{item.image}}"}
          - {name: tag, value: "{{item.tag}}"}
        withItems:
        - { image: 'debian', tag: '9.1' }
        - { image: 'debian', tag: '8.9' }
        - { image: 'alpine', tag: '3.6' }
        - { image: 'ubuntu', tag: '17.10' }
  - name: cat-os-release
    inputs:
      parameters:
      - name: image
      - name: tag
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.image}}:{{inputs.parameters.tag}}"]
""",
    "Succeeded",
    {
        "test-linux": "Succeeded",
        "test-linux(0:image:debian,tag:9.1)": "Succeeded",
        "test-linux(1:image:debian,tag:8.9)": "Succeeded",
        "test-linux(2:image:alpine,tag:3.6)": "Succeeded",
        "test-linux(3:image:ubuntu,tag:17.10)": "Succeeded",
    },  # fmt: skip
    args={"test-linux(3:image:ubuntu,tag:17.10)": ["echo", "ubuntu:17.10"]},
)

LOOPS_SEQUENCE = Case(
    "loops-sequence",
    "examples/loops-sequence.yaml (docs/walk-through/loops.md, withSequence count/start/end/format); "
    "dag.go expandSequence: the items are the numbers printed with format, counting down when start > end; "
    "adapted: steps to a DAG, two of its loops",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-sequence-
spec:
  entrypoint: loops-sequence
  templates:
  - name: loops-sequence
    dag:
      tasks:
      - name: sequence-count
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{item}}"}]
        withSequence:
          count: "3"
      - name: sequence-start-end-format
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{item}}"}]
        withSequence:
          start: "12"
          end: "10"
          format: "2020-05-%02X"
"""
    + PRINT,
    "Succeeded",
    {
        "sequence-count": "Succeeded",
        "sequence-count(0:0)": "Succeeded",
        "sequence-count(1:1)": "Succeeded",
        "sequence-count(2:2)": "Succeeded",
        "sequence-start-end-format": "Succeeded",
        "sequence-start-end-format(0:2020-05-0C)": "Succeeded",
        "sequence-start-end-format(1:2020-05-0B)": "Succeeded",
        "sequence-start-end-format(2:2020-05-0A)": "Succeeded",
    },  # fmt: skip
)

GEN_LIST = """
  - name: gen-list
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        import json, sys
        json.dump({{inputs.parameters.items}}, sys.stdout)
    inputs:
      parameters: [{name: items}]
"""

LOOPS_PARAM_RESULT = Case(
    "loops-param-result-fan-in",
    "examples/loops-param-result.yaml (withParam over a script's JSON result); the fan-in "
    "{{tasks.double.outputs.result}} is the JSON list of the items' results read as JSON, in item order "
    "(operator.go processAggregateNodeOutputs); adapted: steps to a DAG, sleep to doubling",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-param-result-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: generate
        template: gen-list
        arguments:
          parameters: [{name: items, value: "[1, 2, 3]"}]
      - name: double
        depends: generate
        template: double
        arguments:
          parameters: [{name: n, value: "{{item}}"}]
        withParam: "{{tasks.generate.outputs.result}}"
      - name: total
        depends: double
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{tasks.double.outputs.result}}"}]
  - name: double
    inputs:
      parameters: [{name: n}]
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        print({{inputs.parameters.n}} * 2)
"""
    + GEN_LIST
    + PRINT,
    "Succeeded",
    {
        "generate": "Succeeded",
        "double": "Succeeded",
        "double(0:1)": "Succeeded",
        "double(1:2)": "Succeeded",
        "double(2:3)": "Succeeded",
        "total": "Succeeded",
    },  # fmt: skip
    args={"total": ["echo", "[2,4,6]"]},
)

LOOPS_EMPTY_PARAM = Case(
    "loops-empty-param",
    "test/e2e/functional/loops-empty-param.yaml, asserted by test/e2e/functional_test.go TestLoopEmptyParam "
    "(workflow Succeeded, sleep Skipped 'Skipped, empty params'); adapted: steps to a DAG",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-param-result-
spec:
  entrypoint: loop-param-result-example
  templates:
  - name: loop-param-result-example
    dag:
      tasks:
      - name: generate
        template: gen-number-list
      - name: sleep
        depends: generate
        template: sleep-n-sec
        arguments:
          parameters:
          - name: seconds
            value: "{{item}}"
        withParam: "{{tasks.generate.outputs.result}}"
  - name: gen-number-list
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        import json
        import sys
        json.dump([i for i in range(0, -1)], sys.stdout)
  - name: sleep-n-sec
    inputs:
      parameters:
      - name: seconds
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo sleeping for {{inputs.parameters.seconds}} seconds; sleep {{inputs.parameters.seconds}}; echo done"]
""",
    "Succeeded",
    {"generate": "Succeeded", "sleep": "Skipped"},
    messages={"sleep": "Skipped, empty params"},
)

FAILING_ITEM = Case(
    "loops-failing-item",
    "dag.go executeDAGTask: the task group takes the phase of its failed item once all items are done "
    "(the other items still run), the dependent task is omitted and the DAG fails (assessDAGPhase)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-failing-item-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: B
        template: exit
        arguments:
          parameters: [{name: code, value: "{{item}}"}]
        withItems: [0, 1, 0]
      - {name: C, depends: B, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
  - name: exit
    inputs:
      parameters: [{name: code}]
    container:
      image: argoproj/argosay:v2
      args: ["exit", "{{inputs.parameters.code}}"]
""",
    "Failed",
    {"B": "Failed", "B(0:0)": "Succeeded", "B(1:1)": "Failed", "B(2:0)": "Succeeded", "C": "Omitted"},
)

ANY_SUCCEEDED = Case(
    "loops-any-succeeded",
    "docs/enhanced-depends-logic.md (.AnySucceeded for a task with items) and dag.go evaluateDependsLogic "
    "(AnySucceeded over the task group's children); the DAG's phase is its leaf's (assessDAGPhase)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-any-succeeded-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      failFast: false
      tasks:
      - name: B
        template: exit
        arguments:
          parameters: [{name: code, value: "{{item}}"}]
        withItems: [1, 0]
      - {name: C, depends: B.AnySucceeded, template: exit, arguments: {parameters: [{name: code, value: "0"}]}}
  - name: exit
    inputs:
      parameters: [{name: code}]
    container:
      image: argoproj/argosay:v2
      args: ["exit", "{{inputs.parameters.code}}"]
""",
    "Succeeded",
    {"B": "Failed", "B(0:1)": "Failed", "B(1:0)": "Succeeded", "C": "Succeeded"},
)

ITEM_WHEN = Case(
    "loops-item-when",
    "dag.go executeDAGTask: each expanded task's when (the item substituted) is evaluated on its own, a "
    "false one Skipped ('when ... evaluated false'); the group, with no failed item, Succeeded",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-item-when-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: B
        template: print-message
        when: "{{item}} > 1"
        arguments:
          parameters: [{name: message, value: "{{item}}"}]
        withItems: [1, 2]
"""
    + PRINT,
    "Succeeded",
    {"B": "Succeeded", "B(0:1)": "Skipped", "B(1:2)": "Succeeded"},
    messages={"B(0:1)": "when '1 > 1' evaluated false"},
)

PARAM_FROM_ARGUMENT = Case(
    "loops-param-from-argument",
    "docs/walk-through/loops.md (withParam over a workflow parameter holding a JSON list of maps, "
    "examples/loops-param-argument.yaml); adapted: steps to a DAG",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-param-arg-
spec:
  entrypoint: loop-param-arg-example
  arguments:
    parameters:
    - name: os-list
      value: |
        [
          { "image": "debian", "tag": "9.1" },
          { "image": "alpine", "tag": "3.6" }
        ]
  templates:
  - name: loop-param-arg-example
    inputs:
      parameters:
      - name: os-list
    dag:
      tasks:
      - name: test-linux
        template: print-message
        arguments:
          parameters:
          - name: message
            value: "{{item.image}}:{{item.tag}}"
        withParam: "{{inputs.parameters.os-list}}"
"""
    + PRINT,
    "Succeeded",
    {
        "test-linux": "Succeeded",
        "test-linux(0:image:debian,tag:9.1)": "Succeeded",
        "test-linux(1:image:alpine,tag:3.6)": "Succeeded",
    },  # fmt: skip
    args={"test-linux(1:image:alpine,tag:3.6)": ["echo", "alpine:3.6"]},
)

BAD_PARAM = Case(
    "loops-param-not-a-list",
    "dag.go expandTask: a withParam that is not a JSON list errs the task ('withParam value could not be "
    "parsed as a JSON list'), and the DAG with it",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-bad-param-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: B
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{item}}"}]
        withParam: "not json"
"""
    + PRINT,
    "Error",
    {"B": "Error"},
    messages={"B": "withParam value could not be parsed as a JSON list: not json"},
)

PARAMETER_FAN_IN = Case(
    "loops-output-parameter-fan-in",
    "operator.go processAggregateNodeOutputs and aggregatedJSONValueList: {{tasks.X.outputs.parameters.p}} "
    "of a looped task is the JSON list of its items' values (strings, as they are not JSON lists or objects)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-parameter-fan-in-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: produce
        template: produce
        arguments:
          parameters: [{name: v, value: "{{item}}"}]
        withItems: [a, b]
      - name: consume
        depends: produce
        template: print-message
        arguments:
          parameters: [{name: message, value: "{{tasks.produce.outputs.parameters.out}}"}]
  - name: produce
    inputs:
      parameters: [{name: v}]
    outputs:
      parameters:
      - name: out
        valueFrom: {path: /tmp/out.txt}
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.v}}", "/tmp/out.txt"]
"""
    + PRINT,
    "Succeeded",
    {
        "produce": "Succeeded",
        "produce(0:a)": "Succeeded",
        "produce(1:b)": "Succeeded",
        "consume": "Succeeded",
    },
    args={"consume": ["echo", '["a","b"]']},
)

CASES = [
    LOOPS_DAG,
    LOOPS_MAPS,
    LOOPS_SEQUENCE,
    LOOPS_PARAM_RESULT,
    LOOPS_EMPTY_PARAM,
    FAILING_ITEM,
    ANY_SUCCEEDED,
    ITEM_WHEN,
    PARAM_FROM_ARGUMENT,
    BAD_PARAM,
    PARAMETER_FAN_IN,
]
