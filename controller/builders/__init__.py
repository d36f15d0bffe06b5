"""Pure functions from API values and controller config to the objects and decisions the reconcilers act on.

No I/O and no client types: every builder takes frozen values (or cached objects, read only) and returns plain
JSON dicts or typed verdicts, so the same inputs always give the same answer and each is tested without a
cluster. `lint-imports` keeps it that way: nothing here may import controller.kube, controller.runtime or an
HTTP client.

- Desired objects: `deployment` (with `llama_args`, the llama-server command line), `service`, `autoscaling`,
  `monitoring`, `fetch_job`, `fetch_rbac`, `model_cache`, on `labels` and `security`.
- Status, one home per kind: `model_status` and `inferenceservice_status` (with `serving_problems`), both on
  `conditions`.
- Other decisions: `fetch_outcome` (reading a download attempt back, timing its retry), `replicas_handoff`.
"""
