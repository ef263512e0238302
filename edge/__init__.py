"""tonecue.edge: everything a device runs.

Only numpy is imported here; onnxruntime, soundfile and sounddevice are imported where they are
used, so that importing the frontend stays fast on a Pi.
"""

__version__ = "0.1.0"
