"""The Model controller, one file per job; start at `reconciler`.

- `wiring`: the informers and event sources on a manager, and the domain metrics.
- `watch`: which events wake which Model (download pods through their Job, the namespace's cache claim).
- `reconciler`: the ladder of one pass; its decisions come from controller.builders.
- `writes`: every write: the cache claim, the fetcher's identity, download Jobs, the status, the Events.
"""

from controller.reconcilers.model.wiring import FETCH_SELECTOR, setup_model_controller

__all__ = ["FETCH_SELECTOR", "setup_model_controller"]
