"""Dispatch module: providers by weight, employees by load, queues and claims."""
