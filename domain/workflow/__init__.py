"""Workflow domain module."""
