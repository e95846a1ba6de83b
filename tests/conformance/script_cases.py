"""Script templates as Argo runs them: the source staged as a file whose path ends the command line, its
``{{inputs.parameters.*}}`` substituted, its stdout the task's ``outputs.result``.

Each case is a workflow from Argo's docs or examples (``source`` names it and says what was adapted), with
the workflow and node phases Argo gives it and the value a later task received.
"""

from __future__ import annotations

from tests.conformance.case import Case

SCRIPT_RESULT = Case(
    "script-result",
    "docs/walk-through/scripts-and-results.md (examples/scripts-python.yaml): a script's stdout is "
    "{{tasks.X.outputs.result}}; adapted: steps to a DAG, random number to a fixed one",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: scripts-python-
spec:
  entrypoint: python-script-example
  templates:
  - name: python-script-example
    dag:
      tasks:
      - name: generate
        template: gen-random-int
      - name: print
        template: print-message
        depends: generate
        arguments:
          parameters:
          - name: message
            value: "{{tasks.generate.outputs.result}}"
  - name: gen-random-int
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        i = 7
        print(i)
  - name: print-message
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "result was: {{inputs.parameters.message}}"]
""",
    "Succeeded",
    {"generate": "Succeeded", "print": "Succeeded"},
    args={"print": ["echo", "result was: 7"]},
    scope={"tasks.generate.outputs.result": "7"},
)

SCRIPT_INPUTS = Case(
    "script-with-inputs",
    "docs/walk-through/scripts-and-results.md: the source is substituted like the rest of the template "
    "({{inputs.parameters.x}}); operator.go executeScript appends the staged file to args "
    "(mainCtr.Args = append(mainCtr.Args, common.ExecutorScriptSourcePath)); adapted: a DAG task",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: script-inputs-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: add
        template: add
        arguments:
          parameters: [{name: a, value: "2"}, {name: b, value: "3"}]
      - name: show
        depends: add
        template: show
        arguments:
          parameters: [{name: sum, value: "{{tasks.add.outputs.result}}"}]
  - name: add
    inputs:
      parameters: [{name: a}, {name: b}]
    script:
      image: python:3.12
      command: [python]
      args: ["-u"]
      source: |
        print({{inputs.parameters.a}} + {{inputs.parameters.b}})
  - name: show
    inputs:
      parameters: [{name: sum}]
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.sum}}"]
""",
    "Succeeded",
    {"add": "Succeeded", "show": "Succeeded"},
    args={"show": ["echo", "5"]},
    scope={"tasks.add.outputs.result": "5"},
)

SCRIPT_FAILS = Case(
    "script-exit-code",
    "docs/walk-through/scripts-and-results.md with workflow/controller/operator.go: a script's pod is a "
    "container's; a non-zero exit fails the node (Error (exit code 3)) and the DAG",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: script-fails-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: boom, template: boom}
  - name: boom
    script:
      image: python:3.12
      command: [python]
      source: |
        import sys
        sys.exit(3)
""",
    "Failed",
    {"boom": "Failed"},
    messages={"boom": "Error (exit code 3)"},
)

CASES = [SCRIPT_RESULT, SCRIPT_INPUTS, SCRIPT_FAILS]
