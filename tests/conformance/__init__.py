"""The local executor against Argo's phases: small workflows from Argo's own e2e tests and docs, run locally."""
