"""Steps templates and nested templates as Argo runs them (workflow/controller/steps.go, dag.go, operator.go).

A steps template's groups run in sequence, the steps of a group in parallel. A group is a node ``[i]``, each
step ``[i].<step>`` (steps.go ``executeSteps``: ``fmt.Sprintf("%s[%d]", nodeName, i)`` then
``"%s.%s", sgNodeName, step.Name``; the record leaves out the workflow's name, the root node's). A group whose
step failed, ``continueOn`` not covering it, is ``Failed`` with "child '<node>' failed" (``executeStepGroup``),
which fails the template, and later groups get no node at all (``executeSteps`` returns at that group). A
nested template's node is its task's or step's; its children are named from it (``<node>.<task>``,
``<node>[i].<step>``). ``source`` names each case's origin and what was adapted; Argo's e2e image argosay
stands in for busybox, alpine and whalesay.
"""

from __future__ import annotations

from tests.conformance.case import Case

ECHO = """
  - name: echo
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}"]
"""
FAIL = """
  - name: intentional-fail
    container:
      image: argoproj/argosay:v2
      args: ["exit", "1"]
"""
HEAD = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: {name}-
spec:
  entrypoint: main
  templates:
"""


def manifest(name: str, body: str, *templates: str) -> str:
    return HEAD.format(name=name) + body + "".join(templates)


STEPS = Case(
    "steps-sequential-and-parallel",
    "examples/steps.yaml (docs/walk-through/steps.md): hello1, then hello2a and hello2b in parallel; node names "
    "from steps.go executeSteps/executeStepGroup; adapted: whalesay cowsay to argosay echo",
    manifest(
        "steps",
        """
  - name: main
    steps:
    - - name: hello1
        template: echo
        arguments:
          parameters: [{name: message, value: "hello1"}]
    - - name: hello2a
        template: echo
        arguments:
          parameters: [{name: message, value: "hello2a"}]
      - name: hello2b
        template: echo
        arguments:
          parameters: [{name: message, value: "hello2b"}]
""",
        ECHO,
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].hello1": "Succeeded",
        "[1]": "Succeeded",
        "[1].hello2a": "Succeeded",
        "[1].hello2b": "Succeeded",
    },
    args={"[1].hello2b": ["echo", "hello2b"]},
)

COINFLIP = Case(
    "steps-when-coinflip",
    "examples/coinflip.yaml (docs/walk-through/conditionals.md): heads runs, tails is Skipped with steps.go "
    "executeStepGroup's \"when '...' evaluated false\" (the when substituted); adapted: the coin always shows "
    "heads, whalesay to argosay",
    manifest(
        "coinflip",
        """
  - name: main
    steps:
    - - name: flip-coin
        template: flip-coin
    - - name: heads
        template: heads
        when: "{{steps.flip-coin.outputs.result}} == heads"
      - name: tails
        template: tails
        when: "{{steps.flip-coin.outputs.result}} == tails"
  - name: flip-coin
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        result = "heads"
        print(result)
  - name: heads
    container:
      image: argoproj/argosay:v2
      args: ["echo", "it was heads"]
  - name: tails
    container:
      image: argoproj/argosay:v2
      args: ["echo", "it was tails"]
""",
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].flip-coin": "Succeeded",
        "[1]": "Succeeded",
        "[1].heads": "Succeeded",
        "[1].tails": "Skipped",
    },
    messages={"[1].tails": "when 'heads == tails' evaluated false"},
)

CONTINUE_ON_FAIL = Case(
    "steps-continue-on-failed",
    "examples/continue-on-fail.yaml: C fails with continueOn.failed, so its group succeeds (steps.go "
    "executeStepGroup: a FailedOrError child fails the group unless step.ContinuesOn) and D runs; adapted: "
    "busybox echo to argosay echo, sh -c 'exit 1' to argosay exit 1",
    manifest(
        "continue-on-fail",
        """
  - name: main
    steps:
    - - name: A
        template: echo
        arguments:
          parameters: [{name: message, value: "hello world"}]
    - - name: B
        template: echo
        arguments:
          parameters: [{name: message, value: "hello world"}]
      - name: C
        template: intentional-fail
        continueOn:
          failed: true
    - - name: D
        template: echo
        arguments:
          parameters: [{name: message, value: "hello world"}]
""",
        ECHO,
        FAIL,
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].A": "Succeeded",
        "[1]": "Succeeded",
        "[1].B": "Succeeded",
        "[1].C": "Failed",
        "[2]": "Succeeded",
        "[2].D": "Succeeded",
    },
)

FAILED_STEP = Case(
    "steps-failure-stops-later-groups",
    "steps.go executeStepGroup: once all of a group's steps are done, a failed step not continued on marks "
    "the group Failed, \"child '<node>' failed\"; executeSteps then marks the steps node Failed with that "
    "message and returns, so the next group gets no node; the workflow's phase is its root node's. Same "
    "workflow as examples/continue-on-fail.yaml without continueOn",
    manifest(
        "steps-fail",
        """
  - name: main
    steps:
    - - name: B
        template: echo
        arguments:
          parameters: [{name: message, value: "hello world"}]
      - name: C
        template: intentional-fail
    - - name: D
        template: echo
        arguments:
          parameters: [{name: message, value: "hello world"}]
""",
        ECHO,
        FAIL,
    ),
    "Failed",
    {"[0]": "Failed", "[0].B": "Succeeded", "[0].C": "Failed"},
    messages={"[0]": "child '[0].C' failed"},
)

OUTPUT_PARAMETER = Case(
    "steps-output-parameter",
    "examples/output-parameter.yaml (docs/walk-through/output-parameters.md): "
    "{{steps.generate-parameter.outputs.parameters.hello-param}} in the next group; adapted: whalesay "
    "cowsay to argosay echo",
    manifest(
        "output-parameter",
        """
  - name: main
    steps:
    - - name: generate-parameter
        template: whalesay
    - - name: consume-parameter
        template: print-message
        arguments:
          parameters:
          - name: message
            value: "{{steps.generate-parameter.outputs.parameters.hello-param}}"
  - name: whalesay
    container:
      image: argoproj/argosay:v2
      args: ["echo", "hello world", "/tmp/hello_world.txt"]
    outputs:
      parameters:
      - name: hello-param
        valueFrom:
          path: /tmp/hello_world.txt
  - name: print-message
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}"]
""",
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].generate-parameter": "Succeeded",
        "[1]": "Succeeded",
        "[1].consume-parameter": "Succeeded",
    },
    args={"[1].consume-parameter": ["echo", "hello world"]},
)

LOOPS = Case(
    "steps-with-items",
    "examples/loops.yaml (docs/walk-through/loops.md): a looped step's items are steps of its group, "
    "named step(i:value) (steps.go expandStepGroup, processItem); no group node per loop in steps; adapted: "
    "alpine echo to argosay echo",
    manifest(
        "loops",
        """
  - name: main
    steps:
    - - name: print-message
        template: echo
        arguments:
          parameters:
          - name: message
            value: "{{item}}"
        withItems:
        - hello world
        - goodbye world
""",
        ECHO,
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].print-message(0:hello world)": "Succeeded",
        "[0].print-message(1:goodbye world)": "Succeeded",
    },
    args={"[0].print-message(1:goodbye world)": ["echo", "goodbye world"]},
)

NESTED_DIAMOND = """
  - name: nested-diamond
    inputs:
      parameters:
      - name: message
    dag:
      tasks:
      - name: A
        template: echo
        arguments:
          parameters: [{name: message, value: "{{inputs.parameters.message}}A"}]
      - name: B
        depends: "A"
        template: echo
        arguments:
          parameters: [{name: message, value: "{{inputs.parameters.message}}B"}]
"""

DAG_NESTED = Case(
    "dag-in-dag",
    "examples/dag-nested.yaml: each task of the diamond is itself a DAG, its tasks named <task>.<inner task> "
    "(dag.go taskNodeName: the nested DAG's node name as the prefix), {{inputs.parameters.message}} from the "
    "outer task's arguments; adapted: alpine echo to argosay echo, the diamonds cut to two tasks each",
    manifest(
        "dag-nested",
        """
  - name: main
    dag:
      tasks:
      - name: A
        template: nested-diamond
        arguments:
          parameters: [{name: message, value: A}]
      - name: B
        depends: "A"
        template: nested-diamond
        arguments:
          parameters: [{name: message, value: B}]
""",
        NESTED_DIAMOND,
        ECHO,
    ),
    "Succeeded",
    {
        "A": "Succeeded",
        "A.A": "Succeeded",
        "A.B": "Succeeded",
        "B": "Succeeded",
        "B.A": "Succeeded",
        "B.B": "Succeeded",
    },
    args={"B.B": ["echo", "BB"]},
)

STEPS_IN_DAG = Case(
    "steps-in-dag",
    "examples/dag-diamond-steps.yaml: each task of the diamond is a steps template looping over [1,2,3]; "
    "its nodes <task>[0] and <task>[0].echo(i:n) (steps.go executeSteps under the task's node name); "
    "adapted: alpine echo to argosay echo, the diamond cut to A then B",
    manifest(
        "dag-diamond-steps",
        """
  - name: echo-thrice
    inputs:
      parameters:
      - name: message
    steps:
    - - name: echo
        template: echo
        arguments:
          parameters:
          - {name: message, value: "{{inputs.parameters.message}}{{item}}"}
        withItems: [1,2,3]
  - name: main
    dag:
      tasks:
      - name: A
        template: echo-thrice
        arguments:
          parameters: [{name: message, value: A}]
      - name: B
        depends: "A"
        template: echo-thrice
        arguments:
          parameters: [{name: message, value: B}]
""",
        ECHO,
    ),
    "Succeeded",
    {
        "A": "Succeeded",
        "A[0]": "Succeeded",
        "A[0].echo(0:1)": "Succeeded",
        "A[0].echo(1:2)": "Succeeded",
        "A[0].echo(2:3)": "Succeeded",
        "B": "Succeeded",
        "B[0]": "Succeeded",
        "B[0].echo(0:1)": "Succeeded",
        "B[0].echo(1:2)": "Succeeded",
        "B[0].echo(2:3)": "Succeeded",
    },
    args={"B[0].echo(2:3)": ["echo", "B3"]},
)

DAG_IN_STEPS_OUTPUTS = Case(
    "dag-in-steps-with-outputs",
    "docs/fields.md ValueFrom.parameter ('Parameter reference to a step or dag task in which to retrieve an "
    "output parameter value from (e.g. {{steps.mystep.outputs.myparam}})'); a nested template's outputs come "
    "from its scope (dag.go/steps.go getTemplateOutputsFromScope) and the next step reads them as "
    "{{steps.X.outputs.parameters.p}}; the nested DAG's tasks are <step node>.<task> (dag.go)",
    manifest(
        "dag-in-steps",
        """
  - name: main
    steps:
    - - name: inner
        template: inner
        arguments:
          parameters: [{name: word, value: hi}]
    - - name: print
        template: echo
        arguments:
          parameters: [{name: message, value: "got {{steps.inner.outputs.parameters.said}}"}]
  - name: inner
    inputs:
      parameters:
      - name: word
    outputs:
      parameters:
      - name: said
        valueFrom:
          parameter: "{{tasks.say.outputs.parameters.out}}"
    dag:
      tasks:
      - name: say
        template: say
        arguments:
          parameters: [{name: message, value: "{{inputs.parameters.word}} there"}]
  - name: say
    inputs:
      parameters:
      - name: message
    container:
      image: argoproj/argosay:v2
      args: ["echo", "{{inputs.parameters.message}}", "/tmp/out.txt"]
    outputs:
      parameters:
      - name: out
        valueFrom:
          path: /tmp/out.txt
""",
        ECHO,
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].inner": "Succeeded",
        "[0].inner.say": "Succeeded",
        "[1]": "Succeeded",
        "[1].print": "Succeeded",
    },
    args={"[1].print": ["echo", "got hi there"]},
)

NESTED_FAILURE = Case(
    "nested-dag-failure-fails-the-task",
    "dag.go assessDAGPhase: the nested DAG is Failed when its leaf task failed, so the outer task is Failed "
    "and, failFast, its dependant is Omitted; the outer DAG's phase follows from its leaves the same way. "
    "Same shape as examples/dag-nested.yaml with the inner task failing",
    manifest(
        "nested-fail",
        """
  - name: main
    dag:
      tasks:
      - name: A
        template: inner
      - name: B
        depends: "A"
        template: echo
        arguments:
          parameters: [{name: message, value: B}]
  - name: inner
    dag:
      tasks:
      - name: fail
        template: intentional-fail
""",
        ECHO,
        FAIL,
    ),
    "Failed",
    {"A": "Failed", "A.fail": "Failed", "B": "Omitted"},
)

LOOPS_PARAM_RESULT = Case(
    "steps-with-param-from-a-result",
    "examples/loops-param-result.yaml: withParam '{{steps.generate.outputs.result}}' expands the next group "
    "into one step per item, sleep(i:n) (steps.go resolveReferences, then expandStepGroup); adapted: 20..30 "
    "to 1..3, sh -c sleep to argosay echo",
    manifest(
        "loops-param-result",
        """
  - name: main
    steps:
    - - name: generate
        template: gen-number-list
    - - name: sleep
        template: echo
        arguments:
          parameters:
          - name: message
            value: "{{item}}"
        withParam: "{{steps.generate.outputs.result}}"
  - name: gen-number-list
    script:
      image: python:alpine3.6
      command: [python]
      source: |
        import json
        import sys
        json.dump([i for i in range(1, 4)], sys.stdout)
""",
        ECHO,
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].generate": "Succeeded",
        "[1]": "Succeeded",
        "[1].sleep(0:1)": "Succeeded",
        "[1].sleep(1:2)": "Succeeded",
        "[1].sleep(2:3)": "Succeeded",
    },
    args={"[1].sleep(2:3)": ["echo", "3"]},
)

COINFLIP_RECURSIVE = Case(
    "steps-in-steps-coinflip-recursive",
    "examples/coinflip-recursive.yaml: the tails step runs the coinflip steps template again, its nodes named "
    "under the step's node, [1].tails[0].flip-coin (steps.go executeSteps with the step's node name); adapted: "
    "the coin shows tails, then heads (a count kept in a file named after the workflow), busybox to argosay",
    manifest(
        "coinflip-recursive",
        """
  - name: main
    steps:
    - - name: flip-coin
        template: flip-coin
    - - name: heads
        template: heads
        when: "{{steps.flip-coin.outputs.result}} == heads"
      - name: tails
        template: main
        when: "{{steps.flip-coin.outputs.result}} == tails"
  - name: flip-coin
    script:
      image: python:alpine
      command: [python]
      source: |
        import pathlib, tempfile
        count = pathlib.Path(tempfile.gettempdir()) / "{{workflow.name}}-flips"
        flips = int(count.read_text()) if count.exists() else 0
        count.write_text(str(flips + 1))
        print("tails" if flips == 0 else "heads")
  - name: heads
    container:
      image: argoproj/argosay:v2
      args: ["echo", "it was heads"]
""",
    ),
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].flip-coin": "Succeeded",
        "[1]": "Succeeded",
        "[1].heads": "Skipped",
        "[1].tails": "Succeeded",
        "[1].tails[0]": "Succeeded",
        "[1].tails[0].flip-coin": "Succeeded",
        "[1].tails[1]": "Succeeded",
        "[1].tails[1].heads": "Succeeded",
        "[1].tails[1].tails": "Skipped",
    },
    messages={"[1].heads": "when 'tails == heads' evaluated false"},
)

CASES = [
    STEPS,
    COINFLIP,
    CONTINUE_ON_FAIL,
    FAILED_STEP,
    OUTPUT_PARAMETER,
    LOOPS,
    DAG_NESTED,
    STEPS_IN_DAG,
    DAG_IN_STEPS_OUTPUTS,
    NESTED_FAILURE,
    LOOPS_PARAM_RESULT,
    COINFLIP_RECURSIVE,
]
