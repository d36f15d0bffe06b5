"""LLMKube's container images, built on this machine without Docker or a registry (docs/images.md).

    images = ensure_images()            # {name: BuiltImage(name, reference, archive)}, built once, then cached
    images["controller"].reference      # localhost/llmkube/controller:<content tag>
    images["controller"].archive        # ~/.cache/llmkube/images/controller-<tag>.tar (docker-archive)

- `debian-python`, `debian-llama`: Debian bookworm bases from mmdebstrap, standing in for the public bases.
- `controller`: the repository's Dockerfile (`llmkube-controller`, and `llmkube fetch` for download Jobs).
- `llama-server-cpu`: the pinned llama.cpp build laid out like the public server image.

Tags are content hashes, so an archive found is an archive current; `python -m hack.images build` does the same
from a shell.
"""

from hack.images.archives import BuiltImage
from hack.images.build import IMAGE_NAMES, ensure_images
from hack.images.errors import ImageBuildError

__all__ = ["IMAGE_NAMES", "BuiltImage", "ImageBuildError", "ensure_images"]
