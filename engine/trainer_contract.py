"""What the app and the trainer process agree on, in one place both can import (no torch, no Qt).

The trainer runs as a child process (``python -m trainer retrain ... --json-progress``); its
last stderr line on failure starts with :data:`ERROR_PREFIX`, so the app can show the real
error instead of whatever library warning came last.
"""

from __future__ import annotations

ERROR_PREFIX = "error: "
