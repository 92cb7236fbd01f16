"""Use cases of every module, orchestrating the domain through ports."""
