"""Workflow module: service-flow templates and delivery projects."""
