"""The schemathesis runs are slow and random: collected only with AGORA_FUZZ=1 (``make fuzz``)."""
from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("AGORA_FUZZ") == "1" else ["test_schemathesis*.py"]
