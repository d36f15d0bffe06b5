"""Reconcilers: read informer caches, compute desired objects with the builders, write only what differs."""
