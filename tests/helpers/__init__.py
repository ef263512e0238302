"""Helpers shared by the test packages, imported as `helpers.<module>`.

`tests/` is on sys.path because `tests/conftest.py` is the rootdir's conftest and pytest's default
("prepend") import mode puts the folder of a conftest outside any package there. Nothing else
inserts paths: a test module imports its helpers from here, never from another test module.

- `signals`: deterministic test signals and a few real speech clips of ser-en-dev;
- `onnx_models`: tiny ONNX graphs carrying a tonecue contract (needs the `onnx` package).
"""
