"""The local executor and the tools of one machine: the run, its stop, warm starts, progress, watch, serve, sample data."""
