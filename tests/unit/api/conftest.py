from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "config" / "samples"


def sample_documents() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            docs.append((f"{path.name}#{index}", doc))
    return docs


@pytest.fixture
def repo() -> Path:
    return REPO
