"""The cluster: the Argo Server and Kubernetes API client, submit and apply."""
