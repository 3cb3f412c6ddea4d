"""The Kind cluster lifecycle: create or reuse the cluster, build and load the images, create
the Secrets, apply kubernetes/, wait for the rollouts; port-forwards; endpoints for the CLI."""
