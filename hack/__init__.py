"""Developer tooling: the embedded local control plane and benchmarks. Not shipped in the package."""
