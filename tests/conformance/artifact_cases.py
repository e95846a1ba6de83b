"""Artifacts and volumes as Argo passes them (workflows.local.artifacts, volumes), each task in its own filesystem
(workflows.local.sandbox).

Each case is a workflow from Argo's e2e tests or examples, with the phases Argo gives it. Adapted alike: ``cowsay``
(not in this machine's shell) becomes ``echo``, ``sleep``\\ s are dropped, and the consumer also keeps what it read
as an output parameter (``/tmp/got``), so the case checks the data that arrived, not only the phases.
"""

from __future__ import annotations

from tests.conformance.case import Case

PASSING_STEPS = Case(
    "artifact-passing-steps",
    "test/e2e/functional/artifact-passing.yaml (examples/artifact-passing.yaml): "
    "{{steps.generate-artifact.outputs.artifacts.hello-art}} from a file an emptyDir volume holds, to /tmp/message",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-passing-
spec:
  volumes:
  - name: workdir
    emptyDir: {}
  entrypoint: artifact-example
  templates:
  - name: artifact-example
    steps:
    - - name: generate-artifact
        template: whalesay
    - - name: consume-artifact
        template: print-message
        arguments:
          artifacts:
          - name: message
            from: "{{steps.generate-artifact.outputs.artifacts.hello-art}}"
  - name: whalesay
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo hello world | tee /mnt/vol/hello_world.txt"]
      volumeMounts:
      - name: workdir
        mountPath: /mnt/vol
    outputs:
      artifacts:
      - name: hello-art
        path: /mnt/vol/hello_world.txt
  - name: print-message
    inputs:
      artifacts:
      - name: message
        path: /tmp/message
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["cat /tmp/message | tee /tmp/got"]
    outputs:
      parameters:
      - name: got
        valueFrom: {path: /tmp/got}
""",
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].generate-artifact": "Succeeded",
        "[1]": "Succeeded",
        "[1].consume-artifact": "Succeeded",
    },
    scope={"tasks.[1].consume-artifact.outputs.parameters.got": "hello world"},
)

PASSING_DAG = Case(
    "artifact-passing-dag",
    "examples/dag-diamond-steps.yaml's shape with examples/artifact-passing.yaml's templates: "
    "{{tasks.generate.outputs.artifacts.hello-art}} between DAG tasks, and {{inputs.artifacts.message.path}} "
    "(docs/variables.md) in the consumer's args",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-passing-dag-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: generate
        template: whalesay
      - name: consume
        template: print-message
        depends: generate
        arguments:
          artifacts:
          - name: message
            from: "{{tasks.generate.outputs.artifacts.hello-art}}"
  - name: whalesay
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo hello world | tee /tmp/hello_world.txt"]
    outputs:
      artifacts:
      - name: hello-art
        path: /tmp/hello_world.txt
  - name: print-message
    inputs:
      artifacts:
      - name: message
        path: /tmp/message
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["cat {{inputs.artifacts.message.path}} | tee /tmp/got"]
    outputs:
      parameters:
      - name: got
        valueFrom: {path: /tmp/got}
""",
    "Succeeded",
    {"generate": "Succeeded", "consume": "Succeeded"},
    args={"consume": ["cat /tmp/message | tee /tmp/got"]},
    scope={"tasks.consume.outputs.parameters.got": "hello world"},
)

DIRECTORY = Case(
    "artifact-directory-archive-none",
    "test/e2e/functional/artifact-disable-archive.yaml: a directory and a file stored with archive none, passed "
    "to the next step; adapted: the directory is one the step writes (/mnt/vol/etc), not the image's /etc",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifact-disable-archive-
spec:
  volumes:
    - name: workdir
      emptyDir: {}
  entrypoint: artifact-disable-archive
  templates:
  - name: artifact-disable-archive
    steps:
    - - name: generate-artifact
        template: whalesay
    - - name: consume-artifact
        template: print-message
        arguments:
          artifacts:
          - name: etc
            from: "{{steps.generate-artifact.outputs.artifacts.etc}}"
          - name: hello-txt
            from: "{{steps.generate-artifact.outputs.artifacts.hello-txt}}"
  - name: whalesay
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo hello world | tee /mnt/vol/hello_world.txt; mkdir -p /mnt/vol/etc/sub; echo a > /mnt/vol/etc/sub/a"]
      volumeMounts:
        - name: workdir
          mountPath: /mnt/vol
    outputs:
      artifacts:
      - name: etc
        path: /mnt/vol/etc
        archive:
          none: {}
      - name: hello-txt
        path: /mnt/vol/hello_world.txt
        archive:
          none: {}
  - name: print-message
    inputs:
      artifacts:
      - name: etc
        path: /tmp/etc
      - name: hello-txt
        path: /tmp/hello.txt
    container:
      image: alpine:latest
      command: [sh, -c]
      args:
      - (cat /tmp/hello.txt && cd /tmp/etc && find . | sort) | tr '\\n' ' ' | tee /tmp/got
    outputs:
      parameters:
      - name: got
        valueFrom: {path: /tmp/got}
""",
    "Succeeded",
    {
        "[0]": "Succeeded",
        "[0].generate-artifact": "Succeeded",
        "[1]": "Succeeded",
        "[1].consume-artifact": "Succeeded",
    },
    scope={"tasks.[1].consume-artifact.outputs.parameters.got": "hello world . ./sub ./sub/a "},
)

OPTIONAL_ABSENT = Case(
    "output-artifact-optional",
    "test/e2e/functional/output-artifact-optional.yaml: an optional output artifact the step does not write "
    "(executor.go saveArtifact: 'Ignoring optional artifact which does not exist in path'); the workflow Succeeds",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-artifact-optional-
spec:
  entrypoint: artifact-example
  templates:
    - name: artifact-example
      steps:
        - - name: generate-artifact
            template: whalesay
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["echo hello world | tee /tmp/hello_world12.txt"]
      outputs:
        artifacts:
          - name: hello-art
            optional: true
            path: /tmp/hello_world.txt
""",
    "Succeeded",
    {"[0]": "Succeeded", "[0].generate-artifact": "Succeeded"},
)

OPTIONAL_INPUT_ABSENT = Case(
    "input-artifact-optional",
    "test/e2e/functional/input-artifact-optional.yaml: an optional input artifact with nothing to load is skipped "
    "(executor.go LoadArtifacts: 'Skipping optional input artifact that was not found'); adapted: an s3 key "
    "that the repository does not hold, for the http url '', and /tmp/kubectl for /bin/kubectl",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: input-artifact-optional-
spec:
  entrypoint: http-artifact-example
  templates:
    - name: http-artifact-example
      inputs:
        artifacts:
          - name: kubectl
            path: /tmp/kubectl
            mode: 0755
            optional: true
            s3:
              key: nothing/here
      container:
        image: debian:9.4
        command: [sh, -c]
        args: ["test ! -e /tmp/kubectl && echo NoKubectl"]
""",
    "Succeeded",
    {"http-artifact-example": "Succeeded"},
)

MISSING_REQUIRED = Case(
    "output-artifact-missing-required",
    "test/e2e/functional/output-artifact-optional.yaml without optional: executor.go saveArtifact returns the "
    "not-found error, SaveArtifacts fails the wait container and the node is Error ('failed to save outputs', "
    "argoproj/argo-workflows#1472); the consumer is Omitted and the workflow Error (dag.go assessDAGPhase)",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: output-artifact-missing-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
        - name: generate
          template: whalesay
        - name: consume
          template: print
          depends: generate
          arguments:
            artifacts:
            - name: message
              from: "{{tasks.generate.outputs.artifacts.hello-art}}"
    - name: whalesay
      container:
        image: argoproj/argosay:v2
        command: [sh, -c]
        args: ["echo hello world | tee /tmp/hello_world12.txt"]
      outputs:
        artifacts:
          - name: hello-art
            path: /tmp/hello_world.txt
    - name: print
      inputs:
        artifacts:
        - name: message
          path: /tmp/message
      container:
        image: alpine:latest
        command: [sh, -c]
        args: ["cat /tmp/message"]
""",
    "Error",
    {"generate": "Error", "consume": "Omitted"},
    messages={"generate": "/tmp/hello_world.txt no such file or directory"},
)

UNRESOLVED_FROM = Case(
    "input-artifact-unresolved-from",
    "issue argoproj/argo-workflows#1750 and controller/operator.go resolveInputs: a required input artifact whose "
    "'from' names nothing the producer saved errs the consumer node; optional output on the producer, so it "
    "Succeeds; adapted from test/e2e/functional/output-artifact-optional.yaml",
    MISSING_REQUIRED.manifest.replace(
        "          - name: hello-art\n            path: /tmp/hello_world.txt",
        "          - name: hello-art\n            optional: true\n            path: /tmp/hello_world.txt",
    ),
    "Error",
    {"generate": "Succeeded", "consume": "Error"},
    messages={"consume": "Unable to resolve: {{tasks.generate.outputs.artifacts.hello-art}}"},
)

SAME_PATH_IN_PARALLEL = Case(
    "parallel-tasks-same-declared-path",
    "docs/walk-through/artifacts.md: every pod has its own filesystem, so two tasks running at once each save their "
    "own /tmp/out.txt; each writes, waits until both have written (a claim both mount), reads its own back",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: same-path-
spec:
  entrypoint: main
  volumeClaimTemplates:
  - metadata: {name: meet}
    spec:
      accessModes: [ReadWriteMany]
      resources: {requests: {storage: 1Mi}}
  templates:
  - name: main
    dag:
      tasks:
      - {name: left, template: write, arguments: {parameters: [{name: who, value: left}]}}
      - {name: right, template: write, arguments: {parameters: [{name: who, value: right}]}}
      - name: join
        template: read
        depends: left && right
        arguments:
          artifacts:
          - {name: a, from: "{{tasks.left.outputs.artifacts.out}}"}
          - {name: b, from: "{{tasks.right.outputs.artifacts.out}}"}
  - name: write
    inputs:
      parameters:
      - name: who
    container:
      image: alpine:latest
      command: [sh, -c]
      args:
      - >-
        echo {{inputs.parameters.who}} > /tmp/out.txt; touch /meet/{{inputs.parameters.who}};
        for i in $(seq 600); do [ -e /meet/left ] && [ -e /meet/right ] && break; sleep 0.05; done;
        test "$(cat /tmp/out.txt)" = {{inputs.parameters.who}}
      volumeMounts:
      - {name: meet, mountPath: /meet}
    outputs:
      artifacts:
      - {name: out, path: /tmp/out.txt}
  - name: read
    inputs:
      artifacts:
      - {name: a, path: /in/a}
      - {name: b, path: /in/b}
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["cat /in/a /in/b | tr '\\n' ' ' | tee /tmp/got"]
    outputs:
      parameters:
      - name: got
        valueFrom: {path: /tmp/got}
""",
    "Succeeded",
    {"left": "Succeeded", "right": "Succeeded", "join": "Succeeded"},
    scope={"tasks.join.outputs.parameters.got": "left right "},
)

VOLUME_CLAIM_SHARED = Case(
    "volumes-pvc-shared",
    "examples/volumes-pvc.yaml (docs/walk-through/volumes.md): a volumeClaimTemplate is one volume for the "
    "workflow; the second step reads what the first wrote there; adapted: cowsay to echo, and the steps in a DAG "
    "(the example's two step groups) so the case reads the second's output",
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: volumes-pvc-
spec:
  entrypoint: volumes-pvc-example
  volumeClaimTemplates:
  - metadata:
      name: workdir
    spec:
      accessModes: [ "ReadWriteOnce" ]
      resources:
        requests:
          storage: 1Gi
  templates:
  - name: volumes-pvc-example
    dag:
      tasks:
      - name: generate
        template: whalesay
      - name: print
        template: print-message
        depends: generate
  - name: whalesay
    container:
      image: docker/whalesay:latest
      command: [sh, -c]
      args: ["echo generating message in volume; echo hello world | tee /mnt/vol/hello_world.txt"]
      volumeMounts:
      - name: workdir
        mountPath: /mnt/vol
  - name: print-message
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo getting message from volume; cat /mnt/vol/hello_world.txt | tee /tmp/got"]
      volumeMounts:
      - name: workdir
        mountPath: /mnt/vol
    outputs:
      parameters:
      - name: got
        valueFrom: {path: /tmp/got}
""",
    "Succeeded",
    {"generate": "Succeeded", "print": "Succeeded"},
    scope={"tasks.print.outputs.parameters.got": "hello world"},
)

CASES = [
    PASSING_STEPS,
    PASSING_DAG,
    DIRECTORY,
    OPTIONAL_ABSENT,
    OPTIONAL_INPUT_ABSENT,
    MISSING_REQUIRED,
    UNRESOLVED_FROM,
    SAME_PATH_IN_PARALLEL,
    VOLUME_CLAIM_SHARED,
]
