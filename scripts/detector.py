"""Put the shipped model's speech detector beside it, from the PyPI wheel that ships it.

    python scripts/detector.py MODEL.onnx

The default model names Silero VAD v6 (MIT) in its contract, with the file's SHA-256. That file is
a third-party model: it is not copied into this repository but taken from the `silero-vad` wheel
on PyPI (whose own dependencies, torch among them, are not installed: only the wheel is fetched,
and only its ONNX files and licence are kept): the file the contract pins and, where the wheel has
one, the same network's run-of-chunks graph (`tonecue.edge.speech.SEQUENCE_GRAPHS`: the same
probabilities at 2 to 6 times less cost). Run by scripts/setup.sh; does nothing when the right files
are already there. Exits 1 with the reason when it cannot.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tonecue.edge.model import ModelContract, PREFIX
from tonecue.edge.speech import SEQUENCE_GRAPHS, file_sha256


def contract_of(model: Path) -> ModelContract:
    import onnxruntime as ort

    meta = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    return ModelContract.from_metadata({k: v for k, v in meta.items() if k.startswith(PREFIX)}, str(model))


def main(model: Path) -> int:
    detector = contract_of(model).detector
    if not detector.enabled:
        return 0
    target = model.parent / detector.file
    twin = SEQUENCE_GRAPHS.get(detector.sha256)
    wanted = {target: detector.sha256, **({} if twin is None else {model.parent / twin[0]: twin[1]})}
    if all(path.is_file() and file_sha256(path) == sha for path, sha in wanted.items()):
        return 0
    package, version = detector.source.split()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", tmp, f"{package}=={version}"], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            licence = next(n for n in z.namelist() if ".dist-info/" in n and "LICENSE" in n.upper())
            target.with_suffix(".LICENSE").write_bytes(z.read(licence))
            for path, sha in wanted.items():
                onnx = next(n for n in z.namelist() if n.endswith(f"/data/{path.name}"))
                path.write_bytes(z.read(onnx))
                if file_sha256(path) != sha:
                    path.unlink()
                    print(f"{wheel.name} holds another {path.name} than the model was trained with", file=sys.stderr)
                    return 1
    print(f"speech detector {', '.join(p.name for p in wanted)} ({detector.source}, MIT) placed beside {model.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "edge/assets/model.onnx"))
