"""Fingerprints name exactly the bytes, names and modes of their inputs; Dockerfile sources and .dockerignore
are read as Docker reads them, so the files hashed are the files the build copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from hack.images.fingerprint import (
    Fingerprint,
    context_files,
    copied_sources,
    ignore_patterns,
    is_ignored,
)

REPO = Path(__file__).resolve().parents[3]


def _tag(*fields: tuple[str, str]) -> str:
    fingerprint = Fingerprint()
    for label, text in fields:
        fingerprint.add_text(label, text)
    return fingerprint.tag()


def test_equal_inputs_give_equal_tags() -> None:
    assert _tag(("a", "one"), ("b", "two")) == _tag(("a", "one"), ("b", "two"))


def test_moving_bytes_from_one_input_to_the_next_changes_the_tag() -> None:
    assert _tag(("a", "ab"), ("b", "c")) != _tag(("a", "a"), ("b", "bc"))


def test_renaming_an_input_changes_the_tag() -> None:
    assert _tag(("a", "same")) != _tag(("b", "same"))


def test_tag_is_sixteen_hex_digits() -> None:
    tag = _tag(("a", "x"))
    assert len(tag) == 16
    int(tag, 16)


def test_making_a_file_executable_changes_the_tag(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    before = Fingerprint()
    before.add_tree(tmp_path, ["run.sh"])
    script.chmod(0o755)
    after = Fingerprint()
    after.add_tree(tmp_path, ["run.sh"])
    assert before.tag() != after.tag()


def test_copied_sources_are_the_context_paths_of_copy_and_add() -> None:
    dockerfile = """\
FROM base AS build
COPY pyproject.toml README.md \\
     constraints.txt ./
COPY --chown=1:1 api ./api
ADD data.tar /data
COPY --from=build /opt/x /opt/x
RUN echo COPY is not an instruction here
"""
    assert copied_sources(dockerfile) == ["pyproject.toml", "README.md", "constraints.txt", "api", "data.tar"]


@pytest.mark.parametrize(
    "instruction", ['COPY ["a b", "/x"]', "ADD https://example.com/x.tgz /x", "COPY <<EOF /x"]
)
def test_copy_forms_the_fingerprint_cannot_follow_are_refused(instruction: str) -> None:
    with pytest.raises(ValueError, match="cannot read the sources"):
        copied_sources(f"FROM base\n{instruction}\n")


def test_dockerignore_exceptions_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="exceptions"):
        ignore_patterns("tests\n!tests/keep.py\n")


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("tests/unit/test_x.py", True),  # a pattern naming a directory excludes everything in it
        ("controller/__pycache__/x.pyc", True),  # ** spans directories
        ("__pycache__/x.pyc", True),  # ... including none
        ("notes.pyc", True),
        ("controller/notes.pyc", False),  # * stays within one component, as in Docker
        ("controller/tests.py", False),
        (".gitignore", False),
    ],
)
def test_dockerignore_patterns_match_as_docker_matches_them(path: str, ignored: bool) -> None:
    patterns = ignore_patterns("# comment\n.git\n**/__pycache__\ntests/\n*.pyc\n")
    assert is_ignored(path, patterns) is ignored


def test_context_files_walk_directories_and_drop_ignored_files(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("a")
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_text("bytecode")
    (tmp_path / "README.md").write_text("r")
    files = context_files(tmp_path, ["README.md", "pkg"], ["**/__pycache__"])
    assert files == ["README.md", "pkg/a.py"]


def test_a_source_missing_from_the_context_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="'gone'"):
        context_files(tmp_path, ["gone"], [])


def test_the_controller_image_hashes_the_packages_it_installs_and_not_the_tests() -> None:
    sources = copied_sources((REPO / "Dockerfile").read_text())
    files = context_files(REPO, sources, ignore_patterns((REPO / ".dockerignore").read_text()))
    assert {"pyproject.toml", "constraints.txt", "controller/options.py", "llmkube/fetch/cli.py"} <= set(
        files
    )
    assert not [f for f in files if f.startswith(("tests/", "hack/", "docs/")) or "__pycache__" in f]
