"""The template factory: one Container template per step, with the platform's conventions.

Every step runs in exec form (``python -m steps.<module> --flag {{inputs.parameters.flag}}``, no
shell) as a non-root user on a read-only root filesystem, reads settings from the
``argo-mlops-settings`` ConfigMap (required) and the optional ``argo-mlops-secrets`` Secret, writes its output parameters as files under ``/tmp/outputs``, and retries by the exit-code
contract: ``retryPolicy: Always`` (Argo reports a spot preemption sometimes as Failed, sometimes as
Error) with an ``expression`` that never retries bad input, and exponential backoff. A GPU step
asks for ``nvidia.com/gpu``, lands on GPU nodes, and its last attempt moves from spot to
on-demand capacity through a ``podSpecPatch`` keyed on ``{{retries}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hera.workflows import (
    ConfigMapEnvFrom,
    Container,
    Env,
    Parameter,
    Resources,
    RetryStrategy,
    SecretEnvFrom,
    WorkflowTemplate,
)
from hera.workflows import models as m

from steps.errors import NOT_RETRIED
from workflows.argo.lint_labels import cost_labels
from workflows.settings import Settings

OUTPUTS_DIR = "/tmp/outputs"
SETTINGS_CONFIGMAP = "argo-mlops-settings"
SECRETS = "argo-mlops-secrets"
# Steps run as the image's non-root user with a read-only root; they write only to /tmp (an emptyDir).
RUN_AS = 10001
CONTAINER_SECURITY = m.SecurityContext(
    allow_privilege_escalation=False,
    read_only_root_filesystem=True,
    run_as_non_root=True,
    capabilities=m.Capabilities(drop=["ALL"]),
)
POD_SECURITY = m.PodSecurityContext(
    run_as_non_root=True,
    run_as_user=RUN_AS,
    run_as_group=RUN_AS,
    fs_group=RUN_AS,
    seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
)
# /tmp for every step; /dev/shm in memory for the GPU step's data loading.
VOLUMES = [
    m.Volume(name="tmp", empty_dir=m.EmptyDirVolumeSource(size_limit="20Gi")),
    m.Volume(name="dshm", empty_dir=m.EmptyDirVolumeSource(medium="Memory", size_limit="8Gi")),
]
RETRY_EXPRESSION = " && ".join(f"asInt(lastRetry.exitCode) != {code}" for code in NOT_RETRIED)


@dataclass(frozen=True)
class StepSpec:
    """What differs between steps: name, flags, outputs, resources, retries, deadline."""

    name: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    cpu: str = "500m"
    memory: str = "1Gi"
    memory_limit: str = "4Gi"
    gpu: bool = False
    retries: int = 3
    deadline_seconds: int = 3600
    backoff: str = "15s"

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")


def retry_strategy(spec: StepSpec) -> RetryStrategy:
    return RetryStrategy(
        limit=spec.retries,
        retry_policy="Always",
        expression=RETRY_EXPRESSION,
        backoff=m.Backoff(duration=spec.backoff, factor=2, max_duration="30m"),
    )


def spot_fallback_patch(spec: StepSpec, settings: Settings) -> str:
    """A podSpecPatch that keeps attempts on spot capacity, and the last one on on-demand."""
    capacity = f"{{{{=asInt(retries) >= {spec.retries} ? '{settings.on_demand_capacity}' : '{settings.spot_capacity}'}}}}"
    return json.dumps({"nodeSelector": {settings.capacity_type_label: capacity}})


def step_template(
    spec: StepSpec,
    settings: Settings,
    input_values: dict[str, str] | None = None,
    metrics: list | None = None,
) -> Container:
    """The Container template of one step (inside a Hera workflow context, it registers itself).

    ``input_values`` fixes inputs in the template itself, for templates that are invoked without
    arguments (an exit handler)."""
    input_values = input_values or {}
    flags = ("run-dir", *spec.inputs)
    args = [part for flag in flags for part in (f"--{flag}", f"{{{{inputs.parameters.{flag}}}}}")]
    gpu = {
        "resources": Resources(
            cpu_request=spec.cpu, memory_request=spec.memory, memory_limit=spec.memory_limit, gpus=1
        ),
        "node_selector": settings.gpu_node_selector,
        "tolerations": [
            m.Toleration(key=settings.gpu_toleration_key, operator="Exists", effect="NoSchedule")
        ],
        "pod_spec_patch": spot_fallback_patch(spec, settings),
    }
    return Container(
        name=spec.name,
        image=settings.gpu_image if spec.gpu else settings.image,
        command=["python", "-m", f"steps.{spec.module}"],
        args=args,
        inputs=[
            Parameter(name=flag, **({"value": input_values[flag]} if flag in input_values else {}))
            for flag in flags
        ],
        outputs=[
            Parameter(name=name, value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{name}"))
            for name in spec.outputs
        ],
        env=[Env(name="MLOPS_OUTPUTS_DIR", value=OUTPUTS_DIR)],
        env_from=[
            ConfigMapEnvFrom(name=SETTINGS_CONFIGMAP, optional=False),
            SecretEnvFrom(name=SECRETS, optional=True),
        ],
        security_context=CONTAINER_SECURITY,
        volume_mounts=[m.VolumeMount(name="tmp", mount_path="/tmp")]
        + ([m.VolumeMount(name="dshm", mount_path="/dev/shm")] if spec.gpu else []),
        retry_strategy=retry_strategy(spec),
        active_deadline_seconds=spec.deadline_seconds,
        metrics=metrics,
        **(
            gpu
            if spec.gpu
            else {
                "resources": Resources(
                    cpu_request=spec.cpu, memory_request=spec.memory, memory_limit=spec.memory_limit
                )
            }
        ),
    )


def pipeline_template(
    name: str,
    entrypoint: str,
    settings: Settings,
    parameters: dict[str, str],
    mutex: str,
    deadline_seconds: int,
) -> WorkflowTemplate:
    """A WorkflowTemplate with the platform's conventions: labels, service account, ``onExit: notify``,
    a deadline, pod GC, TTL, and a mutex so two runs of one model never race, whoever started them."""
    return WorkflowTemplate(
        name=name,
        namespace=settings.namespace,
        labels={"app.kubernetes.io/part-of": "argo-mlops", "argo-mlops/pipeline": name},
        entrypoint=entrypoint,
        on_exit="notify",
        service_account_name=settings.service_account,
        active_deadline_seconds=deadline_seconds,
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        ttl_strategy=m.TTLStrategy(seconds_after_success=7 * 86400, seconds_after_failure=14 * 86400),
        synchronization=m.Synchronization(mutexes=[m.Mutex(name=mutex)]),
        security_context=POD_SECURITY,
        volumes=VOLUMES,
        arguments=[Parameter(name=key, value=value) for key, value in parameters.items()],
        # Every pod says its run, model and experiment: OpenCost and Kubecost allocate cost by pod label.
        pod_metadata=m.Metadata(labels=cost_labels(parameters, settings.experiment)),
    )
