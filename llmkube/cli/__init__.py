"""The `llmkube` command line: typer commands over the catalog, inference and benchmark modules."""
