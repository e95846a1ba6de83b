"""``when`` as Argo evaluates it: the ``{{...}}`` substitutions first, then govaluate over the text (bare words
are strings, numbers compare as numbers), or an ``{{=expr}}`` tag evaluated by expr-lang.

docs/walk-through/conditionals.md and examples/conditionals.yaml, conditionals-complex.yaml give the forms;
steps.go shouldExecute evaluates them, dag.go executeDAGTask marks a false one Skipped ("when '...' evaluated
false"). The tasks are argosay containers (snippets.py).
"""

from __future__ import annotations

import textwrap

from tests.conformance.case import Case
from tests.conformance.snippets import dag

COND = "docs/walk-through/conditionals.md"
ECHO_RESULT = """
- name: print
  inputs:
    parameters: [{name: value}]
  script:
    image: python:3.12
    command: [python]
    source: print("{{inputs.parameters.value}}")
"""


def producer(value: str, tasks: str) -> str:
    """Task A printing ``value`` (its outputs.result), then ``tasks``."""
    line = f'- {{name: A, template: print, arguments: {{parameters: [{{name: value, value: "{value}"}}]}}}}'
    return line + "\n" + textwrap.dedent(tasks).strip("\n")


CASES = [
    Case(
        "when-string-equality",
        f"{COND} (examples/conditionals.yaml: '{{{{workflow.parameters.should-print}}}} == true' style, bare "
        "words are strings); adapted: a DAG and a word parameter",
        dag(
            """
            - {name: hello, template: pass, when: "{{workflow.parameters.greeting}} == hello"}
            - {name: goodbye, template: pass, when: "{{workflow.parameters.greeting}} == goodbye"}
            - {name: not-goodbye, template: pass, when: "{{workflow.parameters.greeting}} != goodbye"}
            """,
            spec="arguments: {parameters: [{name: greeting, value: hello}]}",
        ),
        "Succeeded",
        {"hello": "Succeeded", "goodbye": "Skipped", "not-goodbye": "Succeeded"},
        messages={"goodbye": "when 'hello == goodbye' evaluated false"},
    ),
    Case(
        "when-parameter-from-command-line",
        f"{COND} with examples/conditionals.yaml (argo submit -p should-print=true turns the step on)",
        dag(
            """
            - {name: print-hello, template: pass, when: "{{workflow.parameters.should-print}} == true"}
            """,
            spec="arguments: {parameters: [{name: should-print, value: 'false'}]}",
        ),
        "Succeeded",
        {"print-hello": "Succeeded"},
        parameters={"should-print": "true"},
    ),
    Case(
        "when-parameter-default-false",
        f"{COND} with examples/conditionals.yaml: should-print false by default skips the step",
        dag(
            """
            - {name: print-hello, template: pass, when: "{{workflow.parameters.should-print}} == true"}
            """,
            spec="arguments: {parameters: [{name: should-print, value: 'false'}]}",
        ),
        "Succeeded",
        {"print-hello": "Skipped"},
    ),
    Case(
        "when-quoted-strings",
        f"{COND}: quoted strings compare with spaces inside ('{{{{...}}}}' == 'a b')",
        dag(
            """
            - {name: same, template: pass, when: "'{{workflow.parameters.x}}' == 'big red'"}
            - {name: other, template: pass, when: "'{{workflow.parameters.x}}' == 'big blue'"}
            """,
            spec="arguments: {parameters: [{name: x, value: big red}]}",
        ),
        "Succeeded",
        {"same": "Succeeded", "other": "Skipped"},
    ),
    Case(
        "when-numbers-compare-as-numbers",
        f"{COND} with govaluate: a result of 7 compares numerically (7 > 5, 7 < 10, 7 >= 8 false)",
        dag(
            producer(
                "7",
                """
            - {name: gt, depends: A, template: pass, when: "{{tasks.A.outputs.result}} > 5"}
            - {name: lt, depends: A, template: pass, when: "{{tasks.A.outputs.result}} < 10"}
            - {name: ge, depends: A, template: pass, when: "{{tasks.A.outputs.result}} >= 8"}
            - {name: eq, depends: A, template: pass, when: "{{tasks.A.outputs.result}} == 7.0"}
            """,
            ),
            templates=ECHO_RESULT,
        ),
        "Succeeded",
        {"A": "Succeeded", "gt": "Succeeded", "lt": "Succeeded", "ge": "Skipped", "eq": "Succeeded"},
    ),
    Case(
        "when-numbers-not-lexical",
        f"{COND} with govaluate: 10 > 9 numerically though '10' < '9' as text",
        dag(
            producer("10", '- {name: B, depends: A, template: pass, when: "{{tasks.A.outputs.result}} > 9"}'),
            templates=ECHO_RESULT,
        ),
        "Succeeded",
        {"A": "Succeeded", "B": "Succeeded"},
    ),
    Case(
        "when-booleans",
        f"{COND}: 'true' and 'false' are govaluate booleans, and a boolean parameter substitutes to one",
        dag(
            """
            - {name: is-true, template: pass, when: "true"}
            - {name: is-false, template: pass, when: "false"}
            - {name: flag, template: pass, when: "{{workflow.parameters.flag}}"}
            - {name: not-flag, template: pass, when: "!{{workflow.parameters.flag}}"}
            """,
            spec="arguments: {parameters: [{name: flag, value: 'true'}]}",
        ),
        "Succeeded",
        {"is-true": "Succeeded", "is-false": "Skipped", "flag": "Succeeded", "not-flag": "Skipped"},
    ),
    Case(
        "when-and-or",
        "examples/conditionals-complex.yaml ('( a == heads && b == tails ) || ( a == tails && b == tails )'); "
        "adapted: a DAG whose coins are parameters",
        dag(
            """
            - name: heads-tails-or-twice-tails
              template: pass
              when: >-
                ( {{workflow.parameters.flip}} == heads && {{workflow.parameters.again}} == tails ) ||
                ( {{workflow.parameters.flip}} == tails && {{workflow.parameters.again}} == tails )
            - name: heads-and-heads
              template: pass
              when: "{{workflow.parameters.flip}} == heads && {{workflow.parameters.again}} == heads"
            """,
            spec="arguments: {parameters: [{name: flip, value: tails}, {name: again, value: tails}]}",
        ),
        "Succeeded",
        {"heads-tails-or-twice-tails": "Succeeded", "heads-and-heads": "Skipped"},
    ),
    Case(
        "when-on-output-result",
        f"{COND} (the coinflip: when '{{{{tasks.flip-coin.outputs.result}}}} == heads'); adapted: a fixed coin",
        dag(
            """
            - {name: flip-coin, template: print, arguments: {parameters: [{name: value, value: heads}]}}
            - {name: heads, depends: flip-coin, template: pass, when: "{{tasks.flip-coin.outputs.result}} == heads"}
            - {name: tails, depends: flip-coin, template: pass, when: "{{tasks.flip-coin.outputs.result}} == tails"}
            """,
            templates=ECHO_RESULT,
        ),
        "Succeeded",
        {"flip-coin": "Succeeded", "heads": "Succeeded", "tails": "Skipped"},
    ),
    Case(
        "when-on-exit-code",
        "examples/exit-code-output-variable.yaml (docs/variables.md tasks.<NAME>.outputs.exitCode) and "
        "continueOn.failed; a when over the exit code picks the handler",
        dag("""
            - {name: A, template: exit-with, continueOn: {failed: true}, arguments: {parameters: [{name: code, value: "3"}]}}
            - {name: on-three, depends: A, template: pass, when: "{{tasks.A.outputs.exitCode}} == 3"}
            - {name: on-zero, depends: A, template: pass, when: "{{tasks.A.outputs.exitCode}} == 0"}
        """),
        "Succeeded",
        {"A": "Failed", "on-three": "Succeeded", "on-zero": "Skipped"},
        scope={"tasks.A.outputs.exitCode": "3"},
    ),
    Case(
        "when-on-task-status",
        "docs/variables.md (tasks.<NAME>.status: the phase of the task); a when over it after depends "
        "'A.Failed || A.Succeeded'",
        dag("""
            - {name: A, template: fail}
            - {name: report-failure, depends: A.Failed || A.Succeeded, template: pass, when: "{{tasks.A.status}} == Failed"}
            - {name: report-success, depends: A.Failed || A.Succeeded, template: pass, when: "{{tasks.A.status}} == Succeeded"}
        """),
        "Succeeded",
        {"A": "Failed", "report-failure": "Succeeded", "report-success": "Skipped"},
    ),
    Case(
        "when-expression-tag-asint",
        "docs/variables.md (Expression: asInt) (the {{=...}} form); a when "
        "written as an expression tag over a result",
        dag(
            producer(
                "3",
                """
            - {name: big, depends: A, template: pass, when: "{{=asInt(tasks.A.outputs.result) >= 3}}"}
            - {name: small, depends: A, template: pass, when: "{{=asInt(tasks.A.outputs.result) < 3}}"}
            """,
            ),
            templates=ECHO_RESULT,
        ),
        "Succeeded",
        {"A": "Succeeded", "big": "Succeeded", "small": "Skipped"},
    ),
    Case(
        "when-expression-tag-in-list",
        "docs/variables.md (Expression: expr-lang's 'in' over a list) in a when tag",
        dag(
            """
            - {name: known, template: pass, when: "{{=workflow.parameters.env in ['dev', 'prod']}}"}
            - {name: unknown, template: pass, when: "{{=workflow.parameters.env in ['qa']}}"}
            """,
            spec="arguments: {parameters: [{name: env, value: prod}]}",
        ),
        "Succeeded",
        {"known": "Succeeded", "unknown": "Skipped"},
    ),
    Case(
        "when-expression-tag-sprig",
        "docs/variables.md (Expression: 'sprig.trim(inputs.parameters[...])', Sprig functions under sprig.) "
        "in a when tag: sprig.upper",
        dag(
            """
            - {name: shout, template: pass, when: "{{=sprig.upper(workflow.parameters.word) == 'HELLO'}}"}
            """,
            spec="arguments: {parameters: [{name: word, value: hello}]}",
        ),
        "Succeeded",
        {"shout": "Succeeded"},
    ),
    Case(
        "when-regex",
        "examples/conditionals-complex.yaml ('{{steps.flip-again.outputs.result}} =~ hea', govaluate's regex "
        "operator); adapted: a DAG over a parameter",
        dag(
            """
            - {name: heads-regex, template: pass, when: "{{workflow.parameters.coin}} =~ hea"}
            - {name: tails-regex, template: pass, when: "{{workflow.parameters.coin}} =~ tai"}
            """,
            spec="arguments: {parameters: [{name: coin, value: heads}]}",
        ),
        "Succeeded",
        {"heads-regex": "Succeeded", "tails-regex": "Skipped"},
    ),
]
