"""Parameters as Argo passes them: workflow arguments and ``-p``, input defaults and values, enums, output
parameters with ``valueFrom.path``/``default``, and loops whose items feed ``depends`` and fan-in.

docs/walk-through/parameters.md, output-parameters.md, loops.md; common/util.go ProcessArgs (an argument
replaces an input's value or default); operator.go (spec.arguments are the entrypoint's and
workflow.parameters). The tasks are argosay containers (snippets.py); ``args`` shows what a task received.
"""

from __future__ import annotations

from tests.conformance.case import Case
from tests.conformance.snippets import dag

PARAMS = "docs/walk-through/parameters.md"
OUTPUT = """
- name: produce
  inputs:
    parameters: [{name: value}]
  container:
    image: "argoproj/argosay:v2"
    args: [echo, "{{inputs.parameters.value}}", /tmp/out/value.txt]
  outputs:
    parameters: [{name: value, valueFrom: {path: /tmp/out/value.txt}}]
"""


def say(name: str, message: str, extra: str = "") -> str:
    return f'- {{name: {name}, template: say{extra}, arguments: {{parameters: [{{name: message, value: "{message}"}}]}}}}'


CASES = [
    Case(
        "workflow-parameters",
        f"{PARAMS} (examples/arguments-parameters.yaml: spec.arguments read as workflow.parameters); "
        "adapted: a DAG task echoes it",
        dag(
            say("A", "{{workflow.parameters.message}}"),
            spec="arguments: {parameters: [{name: message, value: hello world}]}",
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "hello world"]},
    ),
    Case(
        "workflow-parameters-overridden",
        f"{PARAMS} (argo submit -p message=goodbye replaces spec.arguments' value)",
        dag(
            say("A", "{{workflow.parameters.message}}"),
            spec="arguments: {parameters: [{name: message, value: hello world}]}",
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "goodbye"]},
        parameters={"message": "goodbye"},
    ),
    Case(
        "entrypoint-inputs-from-arguments",
        f"{PARAMS} (the entrypoint's inputs.parameters come from spec.arguments; operator.go)",
        dag(
            say("A", "{{inputs.parameters.message}}"),
            spec="arguments: {parameters: [{name: message, value: from-arguments}]}",
            main="inputs: {parameters: [{name: message}]}",
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "from-arguments"]},
    ),
    Case(
        "input-default-used",
        f"{PARAMS} (inputs.parameters default, used when no argument is given: ProcessArgs)",
        dag(
            "- {name: A, template: say-default}",
            templates="""
            - name: say-default
              inputs:
                parameters: [{name: message, default: the default}]
              container: {image: "argoproj/argosay:v2", args: [echo, "{{inputs.parameters.message}}"]}
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "the default"]},
    ),
    Case(
        "argument-overrides-default",
        f"{PARAMS} with common/util.go ProcessArgs: a task argument replaces the input's default",
        dag(
            say("A", "given", "-default"),
            templates="""
            - name: say-default
              inputs:
                parameters: [{name: message, default: the default}]
              container: {image: "argoproj/argosay:v2", args: [echo, "{{inputs.parameters.message}}"]}
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "given"]},
    ),
    Case(
        "argument-overrides-value",
        "common/util.go ProcessArgs (an argument's value replaces the input's value, as it does a default); "
        "docs/fields.md Parameter.value",
        dag(
            say("A", "given", "-value"),
            templates="""
            - name: say-value
              inputs:
                parameters: [{name: message, value: fixed}]
              container: {image: "argoproj/argosay:v2", args: [echo, "{{inputs.parameters.message}}"]}
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "given"]},
    ),
    Case(
        "input-value-without-argument",
        "docs/fields.md Parameter.value: an input's own value stands when no argument is given",
        dag(
            "- {name: A, template: say-value}",
            templates="""
            - name: say-value
              inputs:
                parameters: [{name: message, value: fixed}]
              container: {image: "argoproj/argosay:v2", args: [echo, "{{inputs.parameters.message}}"]}
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "fixed"]},
    ),
    Case(
        "workflow-parameter-enum",
        "docs/walk-through/parameters.md with docs/fields.md Parameter.enum (the allowed values; -p picks one of them)",
        dag(
            say("A", "{{workflow.parameters.env}}"),
            spec="arguments: {parameters: [{name: env, value: dev, enum: [dev, staging, prod]}]}",
        ),
        "Succeeded",
        {"A": "Succeeded"},
        args={"A": ["echo", "prod"]},
        parameters={"env": "prod"},
    ),
    Case(
        "output-parameter-passing",
        "docs/walk-through/output-parameters.md (valueFrom.path, read by the next task as "
        "tasks.<NAME>.outputs.parameters.<NAME>); adapted: argosay echo writes the file",
        dag(
            """
            - {name: generate, template: produce, arguments: {parameters: [{name: value, value: hello}]}}
            - name: consume
              depends: generate
              template: say
              arguments: {parameters: [{name: message, value: "{{tasks.generate.outputs.parameters.value}}"}]}
            """,
            templates=OUTPUT,
        ),
        "Succeeded",
        {"generate": "Succeeded", "consume": "Succeeded"},
        args={"consume": ["echo", "hello"]},
        scope={"tasks.generate.outputs.parameters.value": "hello"},
    ),
    Case(
        "output-parameter-default",
        "docs/fields.md ValueFrom.default ('if the path is missing, use this value'); adapted: the file is never written, the default stands and the task "
        "succeeds",
        dag(
            "- {name: A, template: maybe}",
            templates="""
            - name: maybe
              container: {image: "argoproj/argosay:v2"}
              outputs:
                parameters: [{name: value, valueFrom: {path: /tmp/out/none.txt, default: fallback}}]
            """,
        ),
        "Succeeded",
        {"A": "Succeeded"},
        scope={"tasks.A.outputs.parameters.value": "fallback"},
    ),
    Case(
        "output-parameter-missing-is-error",
        "executor.go SaveParameters with operator.go: a missing output file without a default errors the "
        "node (Error, not Failed), and its dependant is omitted",
        dag("""
            - {name: A, template: error}
            - {name: B, depends: A, template: pass}
        """),
        "Error",
        {"A": "Error", "B": "Omitted"},
    ),
    Case(
        "loop-items-then-depends",
        "docs/walk-through/loops.md with docs/enhanced-depends-logic.md: a task depending on a withItems "
        "task waits for all items",
        dag(
            """
            - name: A
              template: say
              arguments: {parameters: [{name: message, value: "{{item}}"}]}
              withItems: [a, b, c]
            - {name: B, depends: A, template: pass}
            """
        ),
        "Succeeded",
        {
            "A": "Succeeded",
            "A(0:a)": "Succeeded",
            "A(1:b)": "Succeeded",
            "A(2:c)": "Succeeded",
            "B": "Succeeded",
        },
        args={"A(2:c)": ["echo", "c"]},
    ),
    Case(
        "loop-item-fails-omits-dependant",
        "docs/walk-through/loops.md with dag.go executeDAGTask (a task group fails when an item fails) and "
        "a bare 'A' (Succeeded || Skipped || Daemoned)",
        dag("""
            - name: A
              template: exit-with
              arguments: {parameters: [{name: code, value: "{{item}}"}]}
              withItems: [0, 1]
            - {name: B, depends: A, template: pass}
        """),
        "Failed",
        {"A": "Failed", "A(0:0)": "Succeeded", "A(1:1)": "Failed", "B": "Omitted"},
    ),
    Case(
        "loop-with-param-from-workflow-parameter",
        "docs/walk-through/loops.md (withParam over a JSON list from a parameter: examples/loops-param-argument"
        ".yaml); adapted: a DAG task and argosay echo",
        dag(
            """
            - name: A
              template: say
              arguments: {parameters: [{name: message, value: "{{item}}"}]}
              withParam: "{{workflow.parameters.list}}"
            """,
            spec="""arguments: {parameters: [{name: list, value: '["x", "y"]'}]}""",
        ),
        "Succeeded",
        {"A": "Succeeded", "A(0:x)": "Succeeded", "A(1:y)": "Succeeded"},
        args={"A(1:y)": ["echo", "y"]},
    ),
    Case(
        "loop-sequence-then-fan-in",
        "docs/walk-through/loops.md (withSequence count) with examples/loops-param-result.yaml (the fan-in "
        "{{tasks.A.outputs.result}} is the JSON list of the items' results)",
        dag(
            """
            - name: A
              template: print
              arguments: {parameters: [{name: value, value: "{{item}}"}]}
              withSequence: {count: "2"}
            - {name: B, depends: A, template: say, arguments: {parameters: [{name: message, value: "{{tasks.A.outputs.result}}"}]}}
            """,
            templates="""
            - name: print
              inputs:
                parameters: [{name: value}]
              script:
                image: python:3.12
                command: [python]
                source: print({{inputs.parameters.value}} * 10)
            """,
        ),
        "Succeeded",
        {"A": "Succeeded", "A(0:0)": "Succeeded", "A(1:1)": "Succeeded", "B": "Succeeded"},
        args={"B": ["echo", "[0,10]"]},
    ),
]
