pytest_plugins = ["hack.localcluster.pytest_plugin", "hack.llama_fixture", "hack.task_leaks", "pytester"]
