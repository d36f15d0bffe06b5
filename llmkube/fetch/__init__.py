"""The model downloader the Model's Job runs (`llmkube fetch`, or `python -m llmkube.fetch`)."""

from llmkube.fetch.cli import main

__all__ = ["main"]
