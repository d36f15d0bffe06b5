"""The controller runtime: work-queue, reflector/informer, controller, manager and leader election.

A hand-rolled equivalent of client-go's informers and work-queue and of controller-runtime's controller and
manager, written on the Kubernetes watch API with anyio. Reconcilers only see plain JSON objects and the types in
this package, never kubernetes_asyncio's.
"""
