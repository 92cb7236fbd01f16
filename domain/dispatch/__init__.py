"""Dispatch domain module."""
