"""Reconcilers: read informer caches, compute desired objects with the builders, write only what differs.

One package per reconciled kind, each shaped the same way (`wiring`, `watch`, `reconciler`, `writes`):
`model` and `inferenceservice`. Shared by both: `apply` (write only when our intent changed) and `metrics` (the
`llmkube_*` domain metrics). Pure decisions (what to create, what status to report, when to retry) are in
controller.builders, never here.
"""
