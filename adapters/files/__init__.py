"""Local-disk file stores."""
