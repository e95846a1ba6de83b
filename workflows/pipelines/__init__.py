"""The pipelines in Hera: the step templates, training, drift, Argo Events, the cluster objects, compile."""
