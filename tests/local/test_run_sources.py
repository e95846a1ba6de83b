"""`mlops run FILE.py[:NAME]` runs a Hera file's workflow as its manifest would run, and
`mlops run FILE --with MORE` resolves templateRef and workflowTemplateRef against MORE's
WorkflowTemplates; every problem with the file is one line and exit 65, before anything runs.

Real subprocesses of the CLI, a storage root of their own; the phases read from run.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from steps.errors import BadInput
from workflows.local.loading import python_document

# Modelled on Hera's examples/workflows (dag diamond, conditionals, exit handler, retry).
HERA_FILE = """
from hera.workflows import DAG, Container, Parameter, RetryStrategy, Workflow, WorkflowTemplate

say = Container(name="say", command=["sh", "-c", "echo {{inputs.parameters.message}}"],
                inputs=[Parameter(name="message")])

with Workflow(generate_name="diamond-", entrypoint="diamond") as diamond:
    say_it = Container(name="say", command=["sh", "-c", "echo {{inputs.parameters.message}}"],
                       inputs=[Parameter(name="message")])
    with DAG(name="diamond"):
        a, b = say_it(name="A", arguments={"message": "A"}), say_it(name="B", arguments={"message": "B"})
        c, d = say_it(name="C", arguments={"message": "C"}), say_it(name="D", arguments={"message": "D"})
        a >> [b, c] >> d

with Workflow(generate_name="branches-", entrypoint="main", on_exit="report",
              arguments=[Parameter(name="go", value="no")]) as branches:
    hello = Container(name="hello", command=["sh", "-c", "echo hello"])
    flaky = Container(name="flaky", command=["sh", "-c", "exit 3"], retry_strategy=RetryStrategy(limit=2))
    Container(name="report", command=["sh", "-c", "echo {{workflow.status}} > {{workflow.parameters.go}}.seen"])
    with DAG(name="main"):
        first = hello(name="first")
        first >> [hello(name="maybe", when="{{workflow.parameters.go}} == yes"), flaky(name="flaky")]

with WorkflowTemplate(name="library", entrypoint="say") as library:
    Container(name="say", command=["sh", "-c", "echo {{inputs.parameters.message}}"],
              inputs=[Parameter(name="message")])
"""


def mlops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "COLUMNS"}
    env["MLOPS_STORAGE_ROOT"] = str(tmp_path / "store")
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", "run", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def record(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "store" / "runs").glob("*/run.json")
    return json.loads(path.read_text())


@pytest.fixture
def hera_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.py"
    path.write_text(textwrap.dedent(HERA_FILE))
    return path


@pytest.mark.e2e
def test_a_hera_dag_diamond_runs_from_its_python_file(tmp_path, hera_file):
    done = mlops(tmp_path, "pipeline.py:diamond")
    assert done.returncode == 0, done.stdout + done.stderr
    run = record(tmp_path)
    assert run["phase"] == "Succeeded"
    assert {name: node["phase"] for name, node in run["nodes"].items()} == dict.fromkeys("ABCD", "Succeeded")
    assert run["nodes"]["D"]["started_at"] >= max(run["nodes"][n]["finished_at"] for n in "BC")
    assert not list(tmp_path.glob("*.yaml")), "nothing written beside the user's file"


@pytest.mark.e2e
def test_when_retries_and_the_exit_handler_give_argos_phases(tmp_path, hera_file):
    done = mlops(tmp_path, "pipeline.py:branches")
    assert done.returncode != 0, done.stdout + done.stderr  # flaky fails its three attempts
    run = record(tmp_path)
    assert run["phase"] == "Failed"
    nodes = run["nodes"]
    assert (nodes["first"]["phase"], nodes["maybe"]["phase"], nodes["flaky"]["phase"]) == (
        "Succeeded", "Skipped", "Failed",
    )  # fmt: skip
    assert len(nodes["flaky"]["attempts"]) == 3  # limit 2: the first try and two retries
    assert run["exit_handler"]["phase"] == "Succeeded"
    assert run["exit_handler"]["attempts"][0]["command"] == ["sh", "-c", "echo Failed > no.seen"]


@pytest.mark.e2e
def test_a_parameter_turns_the_when_on(tmp_path, hera_file):
    mlops(tmp_path, "pipeline.py:branches", "-p", "go=yes")
    assert record(tmp_path)["nodes"]["maybe"]["phase"] == "Succeeded"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("source", "target", "says"),
    [
        ("raise RuntimeError('boom')\n", "bad.py", "bad.py:1: cannot import it: RuntimeError: boom"),
        (
            "import no_such_module_here\n",
            "bad.py",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        (HERA_FILE, "bad.py", "defines 3 Hera workflows (branches, diamond, library); name one: bad.py:NAME"),
        (
            HERA_FILE,
            "bad.py:missing",
            "bad.py: defines no 'missing' (its Hera workflows: branches, diamond, library)",
        ),
        (HERA_FILE, "bad.py:say", "bad.py: 'say' is a Container, not a Hera Workflow or WorkflowTemplate"),
        ("x = 1\n", "bad.py", "bad.py: defines no Hera Workflow or WorkflowTemplate at top level"),
        ("x = 1\n", "gone.py", "gone.py: no such Python file"),
    ],
)
def test_a_bad_python_source_is_one_line_and_exit_65(tmp_path, source, target, says):
    (tmp_path / "bad.py").write_text(textwrap.dedent(source))
    done = mlops(tmp_path, target)
    assert done.returncode == 65, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "store" / "runs").exists()


def test_the_only_workflow_is_taken_and_its_neighbours_travel_with_it(tmp_path):
    (tmp_path / "one.py").write_text(
        "from hera.workflows import Container, DAG, Workflow\n"
        "with Workflow(name='one', entrypoint='main') as w:\n"
        "    Container(name='c', command=['true'])\n"
        "    with DAG(name='main'):\n"
        "        Container(name='c2', command=['true'])()\n"
    )
    document, everything = python_document(str(tmp_path / "one.py"))
    assert document["metadata"]["name"] == "one" and everything == [document]
    assert str(tmp_path) not in sys.path  # the file's folder is on sys.path only while it imports


def test_a_helper_module_beside_the_file_imports(tmp_path):
    (tmp_path / "shared_bits.py").write_text("COMMAND = ['true']\n")
    (tmp_path / "uses.py").write_text(
        "from hera.workflows import Container, DAG, Workflow\n"
        "from shared_bits import COMMAND\n"
        "with Workflow(name='uses', entrypoint='main') as w:\n"
        "    c = Container(name='c', command=COMMAND)\n"
        "    with DAG(name='main'):\n"
        "        c(name='t')\n"
    )
    document, _ = python_document(f"{tmp_path / 'uses.py'}:w")
    assert document["spec"]["templates"][0]["container"]["command"] == ["true"]


def test_a_name_given_of_a_file_that_fails_to_import_names_the_file(tmp_path):
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    with pytest.raises(BadInput, match=r"syntax.py:1: cannot import it: SyntaxError"):
        python_document(f"{tmp_path / 'syntax.py'}:w")


REFERRING = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refers-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: greeting, value: from-the-workflow}]}
  templateDefaults: {activeDeadlineSeconds: 300}
  templates:
  - name: main
    dag:
      tasks:
      - {name: hello, templateRef: {name: library, template: say},
         arguments: {parameters: [{name: message, value: "{{workflow.parameters.greeting}}"}]}}
"""
LIBRARY = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: library}
spec:
  entrypoint: main
  arguments: {parameters: [{name: greeting, value: from-the-template}]}
  templates:
  - name: main
    dag:
      tasks:
      - {name: hello, template: say, arguments: {parameters: [{name: message, value: "{{workflow.parameters.greeting}}"}]}}
  - name: say
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [sh, -c, "echo {{inputs.parameters.message}}"]}
"""
BY_REFERENCE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: by-reference-}
spec:
  arguments: {parameters: [{name: greeting, value: overridden}]}
  workflowTemplateRef: {name: library}
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("manifest", "with_", "said"),
    [
        (REFERRING, "lib", "echo from-the-workflow"),
        (BY_REFERENCE, "lib/library.yaml", "echo overridden"),
    ],
)
def test_references_run_against_the_templates_given_with(tmp_path, manifest, with_, said):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "library.yaml").write_text(LIBRARY)
    (tmp_path / "run.yaml").write_text(manifest)
    done = mlops(tmp_path, "run.yaml", "--with", with_)
    assert done.returncode == 0, done.stdout + done.stderr
    run = record(tmp_path)
    assert run["phase"] == "Succeeded" and run["nodes"]["hello"]["phase"] == "Succeeded"
    assert run["nodes"]["hello"]["attempts"][0]["command"] == ["sh", "-c", said]


@pytest.mark.e2e
def test_a_hera_file_refers_to_a_workflow_template_in_the_same_file(tmp_path):
    (tmp_path / "refs.py").write_text(
        textwrap.dedent(HERA_FILE) + "from hera.workflows.models import TemplateRef\n"
        "from hera.workflows import Task\n"
        "with Workflow(generate_name='refs-', entrypoint='main') as refs:\n"
        "    with DAG(name='main'):\n"
        "        Task(name='hi', template_ref=TemplateRef(name='library', template='say'),\n"
        "             arguments={'message': 'by-ref'})\n"
    )
    done = mlops(tmp_path, "refs.py:refs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert record(tmp_path)["nodes"]["hi"]["attempts"][0]["command"] == ["sh", "-c", "echo by-ref"]


@pytest.mark.e2e
def test_an_unknown_reference_is_one_line_and_nothing_runs(tmp_path):
    (tmp_path / "run.yaml").write_text(REFERRING)
    done = mlops(tmp_path, "run.yaml")
    assert done.returncode == 65, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "WorkflowTemplate 'library' is not loaded" in lines[0], done.stderr
    assert not (tmp_path / "store" / "runs").exists()


@pytest.mark.e2e
def test_a_starter_is_started_only_for_a_workflow_that_runs_the_projects_steps(tmp_path, hera_file):
    """A workflow of containers alone never imports PyTorch and MLflow in a starter; one step starts it."""
    assert mlops(tmp_path, "pipeline.py:diamond").returncode == 0
    (diamond,) = (tmp_path / "store" / "runs").glob("*/run.json")
    assert not (diamond.parent / "logs" / "warm-start.log").exists()
    (tmp_path / "uses_a_step.py").write_text(
        "from hera.workflows import Container, Workflow\n"
        "with Workflow(generate_name='steps-', entrypoint='help') as flow:\n"
        "    Container(name='help', command=['python', '-m', 'steps.notify', '--help'])\n"
    )
    done = mlops(tmp_path, "uses_a_step.py")
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = [p for p in (tmp_path / "store" / "runs").glob("*/run.json") if p != diamond]
    assert (run.parent / "logs" / "warm-start.log").exists()
    assert "--workflow-status" in "".join(p.read_text() for p in (run.parent / "logs").glob("help*"))
