"""What ArgoCD syncs and what the workflows need on the cluster: the serving base (a kustomize
base with the model's KServe InferenceService), the ArgoCD Application that syncs the serving
path, and the RBAC of the workflow and Sensor service accounts (only what Argo's executor, the
drift pipeline's retrain and the Sensor need: the steps themselves never call the Kubernetes API)."""

from __future__ import annotations

from typing import Any

from steps.serving_manifest import inference_service
from workflows.settings import Settings

PLACEHOLDER_URI = "s3://models/replace-me-on-first-deploy"


def serving_base(settings: Settings) -> dict[str, dict[str, Any]]:
    """deploy/serving: kustomization.yaml and the model's InferenceService (the deploy step edits it)."""
    model = settings.model_name
    return {
        "kustomization.yaml": {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": settings.namespace,
            "resources": [f"{model}/inference-service.yaml"],
        },
        f"{model}/inference-service.yaml": inference_service(model, PLACEHOLDER_URI, "0", settings.namespace),
    }


def application(settings: Settings) -> dict[str, Any]:
    """The ArgoCD Application: automated sync with prune; selfHeal off because the pipeline owns the path."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": settings.argocd_app,
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/part-of": "argo-mlops"},
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": settings.gitops_repo_url or "https://git.example.com/ml/serving-manifests.git",
                "targetRevision": settings.gitops_branch,
                "path": settings.gitops_path,
                "directory": {"recurse": True},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": settings.namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": False},
                "syncOptions": ["CreateNamespace=false", "ApplyOutOfSyncOnly=true"],
                "retry": {"limit": 3, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    }


def workflow_rbac(settings: Settings) -> list[dict[str, Any]]:
    """The workflow service account: Argo's executor reports outputs, and the drift pipeline's
    ``retrain`` resource step creates a training Workflow and watches it to the end."""
    return _service_account_rbac(
        settings.service_account,
        settings,
        [
            {
                "apiGroups": ["argoproj.io"],
                "resources": ["workflowtaskresults"],
                "verbs": ["create", "patch"],
            },
            {
                "apiGroups": ["argoproj.io"],
                "resources": ["workflows"],
                "verbs": ["create", "get", "list", "watch"],
            },
        ],
    )


def sensor_rbac(settings: Settings) -> list[dict[str, Any]]:
    """The Sensor's service account: it only submits training Workflows."""
    return _service_account_rbac(
        settings.sensor_service_account,
        settings,
        [{"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": ["create"]}],
    )


def _service_account_rbac(name: str, settings: Settings, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    meta = {
        "name": name,
        "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/part-of": "argo-mlops"},
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": settings.namespace}],
        },
    ]


def drift_alert(settings: Settings, threshold: float = 0.5) -> dict[str, Any]:
    """A PrometheusRule that fires when a model's drift share stays above the preset's threshold.

    Argo Workflows exports template metrics with the ``argo_workflows_`` prefix; the daily drift
    check sets the gauge, so ``for: 25h`` means two checks in a row found drift."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "argo-mlops-drift",
            "namespace": settings.namespace,
            "labels": {"app.kubernetes.io/part-of": "argo-mlops"},
        },
        "spec": {
            "groups": [
                {
                    "name": "argo-mlops.drift",
                    "rules": [
                        {
                            "alert": "ModelDriftDetected",
                            "expr": f"max by (model, version) (argo_workflows_model_drift_share) > {threshold}",
                            "for": "25h",
                            "labels": {"severity": "warning"},
                            "annotations": {
                                "summary": "Model {{ $labels.model }} v{{ $labels.version }}: input data drifted",
                                "description": "{{ $value | humanizePercentage }} of the columns drifted from the training data for over a day; a retrain was started by the drift workflow.",
                            },
                        }
                    ],
                }
            ]
        },
    }
