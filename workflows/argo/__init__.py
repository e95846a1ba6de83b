"""Manifests as data: YAML I/O, references and depends, expressions, lint and the CRD field checks."""
