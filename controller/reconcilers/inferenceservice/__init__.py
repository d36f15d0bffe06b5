"""The InferenceService controller, one file per job; start at `reconciler`.

- `wiring`: the informers, indexes and event sources on a manager, and the domain metrics.
- `watch`: which events wake which service (indexes, map functions, the primary predicate).
- `reconciler`: the ladder of one pass; the objects it wants come from controller.builders.
- `writes`: every write: the owned children, the status, the Events.
- `monitors`: the ServiceMonitor cache that exists only while the Prometheus Operator's CRD does.
"""

from controller.reconcilers.inferenceservice.wiring import setup_inferenceservice_controller

__all__ = ["setup_inferenceservice_controller"]
