"""The host agent: serves InferenceServices with accelerator `metal` or `host` by running llama-server here.

`main(argv)` is the `llmkube agent` command; `run_agent(options)` runs it in-process (tests, demos).
"""

from llmkube.agent.command import main, run_agent
from llmkube.agent.options import AgentOptions, PortRange, parse_options

__all__ = ["AgentOptions", "PortRange", "main", "parse_options", "run_agent"]
