"""Pure functions from API values and controller config to the Kubernetes objects the reconcilers apply.

No I/O and no client types: every builder takes frozen values and returns plain JSON dicts (or typed verdicts
for status), so the same inputs always give the same objects and each builder is tested without a cluster.
"""
