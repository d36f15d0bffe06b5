"""`make demo` (`python -m hack.demo`): from nothing to an OpenAI-compatible answer on the embedded local cluster.

Two ways, one CLI (__main__.py):
- pods.py, the default: LLMKube installed with `kubectl apply -k` and run in containers on the cluster's real
  node, as on a user's cluster; each step's time is printed.
- host.py, `--host`: the demo of `accelerator: host`: the controller and the gateway as local processes, the
  host agent serving the model with a native llama-server, on a cluster of fake nodes.

The model is served to the download from a local HTTP server, since this machine reaches no model hub; the Model
names its sha256, so the download is verified. `--keep` leaves everything running until Ctrl-C; `--summary FILE`
writes what happened as JSON (the e2e test reads it).
"""

from hack.demo.common import Processes, chat_route, free_port

__all__ = ["Processes", "chat_route", "free_port"]
