"""The root of every error tonecue raises on purpose, and the exit status each one means.

Each specific error (AudioError, ModelError, CorpusError, ...) subclasses `TonecueError` *and* the
builtin that describes it (ValueError for bad input, RuntimeError for a failing part), as gpiozero's
`exc.py` does: `except TonecueError` catches anything tonecue meant to say, while code that expects
a ValueError keeps working.

Every command line (`tonecue`, `tonecue-train`, `tonecue-export`, `edge-bench`) turns an error into
its exit status here, so that scripts and systemd see the same number for the same kind of trouble.
"""

from __future__ import annotations

__all__ = ["EXIT_STATUS", "TonecueError", "exit_status"]


class TonecueError(Exception):
    """Something tonecue refuses or cannot do; the message says what and why."""


#: Exit status by error class name (the name, so that the device side need not import the host
#: side's errors): 1 an input or a step failed; 2 the command was asked for something unusable
#: (argparse uses 2 as well); 3 the model cannot be used; 4 the config file is wrong. systemd's
#: unit lists 2, 3 and 4 as not worth restarting for.
EXIT_STATUS = {
    "TonecueError": 1,
    "AudioError": 1,
    "FeatureSelectionError": 1,
    "QuantizationError": 1,
    "CorpusError": 2,
    "NoiseError": 2,
    "AugmentationError": 2,
    "RunError": 2,
    "RunFolderError": 2,
    "ModelError": 3,
    "ConfigError": 4,
}


def exit_status(error: BaseException) -> int:
    """The exit status for an error: its own class's entry, else its nearest listed ancestor's."""
    for cls in type(error).__mro__:
        if cls.__name__ in EXIT_STATUS:
            return EXIT_STATUS[cls.__name__]
    return 1
