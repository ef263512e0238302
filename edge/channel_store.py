"""The channel estimate kept across restarts (`[service] channel_file`).

What a device has learnt of its own microphone and room (`tonecue.edge.normalize.ChannelEstimate`)
takes minutes of voices to learn; a wearable restarts every day. The service keeps it in a small
JSON file: the running mean (one number per model input, an average over minutes of everyone's
voice, no audio) and how many windows it has heard, tied to the prior of the model that learnt it
(a mean in another model's features means nothing). Under systemd the file lives in the unit's
StateDirectory (`$STATE_DIRECTORY/channel.json`). A file that is missing, broken or another
model's starts the device from the prior, with a log line; a file that cannot be written costs
the next start its head start, never the loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from .normalize import ChannelEstimate, NormalizationSettings

__all__ = ["CHANNEL_FILE_NAME", "channel_file", "load_channel", "save_channel"]

log = logging.getLogger("tonecue")

CHANNEL_FILE_NAME = "channel.json"
CHANNEL_FORMAT = 1


def channel_file(setting: str) -> Path | None:
    """The file `[service] channel_file` names: "auto" is the unit's StateDirectory when systemd
    gives one (else nowhere), "" is nowhere, anything else is that path."""
    if setting == "auto":
        state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return Path(state) / CHANNEL_FILE_NAME if state else None
    return Path(setting).expanduser() if setting else None


def _prior_id(prior: NormalizationSettings) -> str:
    """Which model's features a channel mean is in: a digest of the prior it started from."""
    digest = hashlib.sha256(np.asarray(prior.mean, dtype=np.float64).tobytes())
    digest.update(np.asarray(prior.std, dtype=np.float64).tobytes())
    return digest.hexdigest()


def save_channel(path: Path, channel: ChannelEstimate, prior: NormalizationSettings) -> bool:
    """Write the estimate (whole, then renamed into place). False, with a warning, if it cannot."""
    data = {"format": CHANNEL_FORMAT, "prior": _prior_id(prior), "windows": channel.windows,
            "mean": [float(v) for v in channel.mean]}
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot keep the channel estimate in %s (%s); the next start learns it again", path,
                    exc.strerror or exc)
        return False
    return True


def load_channel(path: Path, channel: ChannelEstimate, prior: NormalizationSettings) -> bool:
    """Put a saved estimate into `channel`; False (the channel untouched) when there is none to take."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s: cannot read the saved channel estimate (%s); starting from the model's prior", path, exc)
        return False
    try:
        if data["format"] != CHANNEL_FORMAT:
            raise ValueError(f"format {data['format']!r}, this tonecue reads {CHANNEL_FORMAT}")
        mean = np.asarray(data["mean"], dtype=np.float64)
        windows = int(data["windows"])
        if data["prior"] != _prior_id(prior):
            log.info("%s: the saved channel estimate belongs to another model; starting from this one's prior", path)
            return False
        if mean.shape != channel.mean.shape or not np.all(np.isfinite(mean)) or windows < 0:
            raise ValueError(f"{mean.size} values for {channel.mean.size} inputs")
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("%s: not a channel estimate (%s); starting from the model's prior", path, exc)
        return False
    channel.mean[:] = mean
    channel.windows = windows
    log.info("channel estimate from %s: %d windows of voice heard before", path, windows)
    return True
