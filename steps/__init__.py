"""The code that runs inside the workflow's containers: one module per step, no Hera."""
