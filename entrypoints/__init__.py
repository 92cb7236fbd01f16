"""Entry points: the composition root, Flask HTTP, RQ jobs and the CLI."""
