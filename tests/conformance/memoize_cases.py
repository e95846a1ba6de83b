"""``memoize`` as Argo documents it (docs/memoization.md; workflows.local.memoize): a hit reuses the outputs."""

from __future__ import annotations

from tests.conformance.case import Case

SECOND_TASK_HITS = Case(
    "memoize-same-key-hits",
    "examples/memoize-simple.yaml in a DAG of two tasks with the same key: the first stores its outputs, the second "
    "is a hit (no pod; its outputs are the entry's, so it reports the first's message, as the example's note on "
    "a changed cache value shows); adapted: cowsay to echo, the key a fixed string",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memoized-simple-workflow-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: whalesay, arguments: {parameters: [{name: message, value: first}]}}
      - {name: second, template: whalesay, depends: first, arguments: {parameters: [{name: message, value: second}]}}
  - name: whalesay
    inputs:
      parameters:
      - name: message
    memoize:
      key: "test-5"
      maxAge: "10m"
      cache:
        configMap:
          name: my-config
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo {{inputs.parameters.message}} > /tmp/hello_world.txt"]
    outputs:
      parameters:
      - name: hello
        valueFrom:
          path: /tmp/hello_world.txt
""",
    "Succeeded",
    {"first": "Succeeded", "second": "Succeeded"},
    attempts={"first": 1, "second": 1},
    scope={"tasks.first.outputs.parameters.hello": "first", "tasks.second.outputs.parameters.hello": "first"},
)

CASES = [SECOND_TASK_HITS]
