"""A template's requests and placement as numbers, and the price list's setting (MLOPS_PRICES)."""

from __future__ import annotations

import json

import pytest

from steps.errors import BadInput, BadSetting
from workflows.argo.ledger import Line, billed, gpu_type_of, priced
from workflows.argo.resources import Requests, node_selector, quantity, template_requests
from workflows.settings import Prices, load_settings


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5),
        ("2", 2.0),
        ("0.25", 0.25),
        ("8Gi", 8 * 2**30),
        ("512Mi", 2**29),
        ("1G", 1e9),
        ("1e3", 1000.0),
    ],
)
def test_quantities_are_read_as_the_api_server_reads_them(text, value):
    assert quantity(text, "cpu") == value


def test_a_bad_quantity_names_its_field():
    with pytest.raises(BadInput) as refused:
        template_requests({"name": "train", "container": {"resources": {"requests": {"cpu": "two"}}}})
    assert (
        str(refused.value)
        == "template train: resources.cpu: 'two' is not a Kubernetes quantity (e.g. 500m, 2, 8Gi)"
    )


def test_an_unset_request_falls_back_to_its_limit():
    template = {
        "name": "train",
        "container": {
            "resources": {
                "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"},
                "requests": {"cpu": "2", "memory": "8Gi"},
            }
        },
    }
    assert template_requests(template) == Requests(cpu=2.0, memory_gib=8.0, gpus=1.0)
    assert template_requests({"name": "bare", "container": {}}) == Requests()


def test_an_attempts_pod_spec_patch_overlays_the_node_selector():
    template = {"nodeSelector": {"nvidia.com/gpu.present": "true", "karpenter.sh/capacity-type": "spot"}}
    patched = node_selector(template, '{"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"}}')
    assert patched == {"nvidia.com/gpu.present": "true", "karpenter.sh/capacity-type": "on-demand"}
    assert node_selector(template, "nodeSelector:\n  pool: gpu\n")["pool"] == "gpu"  # a YAML patch too


def test_cpu_and_memory_are_billed_at_the_larger_of_request_and_use():
    line = Line(
        step="train", template="train", attempt=1, phase="Succeeded", exit_code=0, retried=False,
        preempted=False, capacity="on-demand", gpu_type="default", wall_seconds=100.0, requests={},
        cpu_seconds=350.0, peak_memory_mib=512.0,
    )  # fmt: skip
    billed(line, Requests(cpu=2.0, memory_gib=1.0, gpus=1.0))
    assert (line.vcpu_seconds, line.gib_seconds, line.gpu_seconds) == (350.0, 100.0, 100.0)
    prices = Prices()
    priced(line, prices)
    listed = prices.on_demand
    assert line.cost == round(
        350 / 3600 * listed.vcpu_hour
        + 100 / 3600 * listed.gib_hour
        + 100 / 3600 * listed.gpu_hour["default"],
        6,
    )


def test_a_gpu_type_the_price_list_lacks_is_named():
    with pytest.raises(BadSetting) as refused:
        gpu_type_of({"nvidia.com/gpu.product": "H100"}, Prices(), "spot", "train")
    assert str(refused.value) == (
        "setting MLOPS_PRICES: spot.gpu_hour has no price for 'H100' "
        "(template train: nodeSelector nvidia.com/gpu.product); add it"
    )


def test_prices_are_read_from_mlops_prices(monkeypatch):
    given = {
        "currency": "EUR",
        "on_demand": {"vcpu_hour": 0.05, "gib_hour": 0.006, "gpu_hour": {"default": 2.5, "H100": 4.0}},
        "spot": {"vcpu_hour": 0.02, "gib_hour": 0.002, "gpu_hour": {"default": 1.0}},
        "default_capacity": "spot",
    }
    monkeypatch.setenv("MLOPS_PRICES", json.dumps(given))
    prices = load_settings().prices
    assert (prices.currency, prices.on_demand.gpu_hour["H100"], prices.default_capacity) == (
        "EUR",
        4.0,
        "spot",
    )


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("{not json", "setting MLOPS_PRICES: not valid JSON for this field"),
        (
            '{"spot": {"vcpu_hour": -1, "gib_hour": 0, "gpu_hour": {"default": 1}}}',
            "setting MLOPS_PRICES: spot.vcpu_hour: Input should be greater than or equal to 0",
        ),
        (
            '{"spot": {"vcpu_hour": 1, "gib_hour": 0, "gpu_hour": {"A100": 1}}}',
            "setting MLOPS_PRICES: spot.gpu_hour: Value error, gpu_hour needs a 'default' price, and no price below 0",
        ),
        ('{"ondemand": {}}', "setting MLOPS_PRICES: ondemand: Extra inputs are not permitted"),
    ],
)
def test_a_bad_price_list_is_one_line_naming_the_key(monkeypatch, value, line):
    monkeypatch.setenv("MLOPS_PRICES", value)
    with pytest.raises(BadSetting) as refused:
        load_settings()
    assert str(refused.value) == line
