"""The network: a multilayer perceptron over the preprocessed features, one logit out."""

from __future__ import annotations

from torch import nn


def build_mlp(input_dim: int, hidden_sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout for each hidden size, then one output logit."""
    layers: list[nn.Module] = []
    width = input_dim
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
