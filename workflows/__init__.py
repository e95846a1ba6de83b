"""Hera definitions of the pipeline and the tools around them (compile, lint, run, submit, CLI)."""
