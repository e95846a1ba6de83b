"""The code that runs inside the workflow's containers: one module per step, no Hera."""

from steps.stopping import install_for_main_module

# `python -m steps.<name>` imports this package first: the step's entry point starts here, so a
# SIGTERM while its libraries import already ends it with the contract's exit 75.
install_for_main_module()
