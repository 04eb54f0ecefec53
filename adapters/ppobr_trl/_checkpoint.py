"""The controller's state inside a Trainer checkpoint folder, as one JSON file.

The core's state is versioned, checksummed bytes (``Controller.state_dict()``); JSON holds them
as base64 next to the trainer's pending KL sums, so a resumed run continues bit-identically.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

STATE_FILE = "ppobr_controller.json"


def save_state(
    folder: str, controller_state: dict[str, Any], pending_kl: tuple[float, float]
) -> None:
    payload = {
        "controller": controller_state["controller"],
        "state": base64.b64encode(bytes(controller_state["state"])).decode("ascii"),
        "pending_kl": list(pending_kl),
    }
    with open(os.path.join(folder, STATE_FILE), "w") as f:
        json.dump(payload, f)


def load_state(folder: str) -> tuple[dict[str, Any], tuple[float, float]] | None:
    """(controller state_dict, pending KL (sum, count)), or None when the folder has none."""
    path = os.path.join(folder, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        payload = json.load(f)
    state = {"controller": payload["controller"], "state": base64.b64decode(payload["state"])}
    s, c = payload["pending_kl"]
    return state, (float(s), float(c))
