"""Helpers shared by the test packages, imported as `helpers.<module>`.

`tests/` is on sys.path because `tests/conftest.py` is the rootdir's conftest and pytest's default
("prepend") import mode puts the folder of a conftest outside any package there. Nothing else
inserts paths: a test module imports its helpers from here, never from another test module.
One module per kind of helper (test signals, tiny ONNX models, run folders, ...); each says in
its docstring what it builds.
"""
