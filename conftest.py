import os

from hypothesis import HealthCheck, settings

pytest_plugins = [
    "hack.localcluster.pytest_plugin",
    "hack.llama_fixture",
    "hack.task_leaks",
    "hack.xdist_plan",
    "pytester",
]

# Property tests check properties, not speed: on a busy shared machine a stalled example must not fail them.
settings.register_profile("llmkube", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("llmkube")

# Every llama-server the tests start on this machine (directly, or under the host agent) computes on one thread.
# With two test workers on two cores, ggml's threads spin at their barriers while the other worker's processes
# hold the cores, and a model that answers in seconds on an idle machine can take many minutes; one thread per
# server degrades in proportion to the load instead. Tests check behaviour, never speed; pods are unaffected.
os.environ.setdefault("LLAMA_ARG_THREADS", "1")
