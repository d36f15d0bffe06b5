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
