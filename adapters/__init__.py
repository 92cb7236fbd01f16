"""Adapters: the real and the fake implementations of every port."""
