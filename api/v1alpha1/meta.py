"""The Kubernetes shapes our API embeds: object metadata, conditions, tolerations, secret references."""

from __future__ import annotations

import attrs

from api.fields import spec_field

#: A Kubernetes resource quantity ("500m", "4Gi", "2"); the schema accepts an int or a string of this form.
QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"


@attrs.frozen(kw_only=True)
class OwnerReference:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@attrs.frozen(kw_only=True)
class ObjectMeta:
    """The part of metadata the operator reads; unknown metadata fields are ignored on read."""

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None


@attrs.frozen(kw_only=True)
class Condition:
    """metav1.Condition: `last_transition_time` moves only when `status` changes (see controller conditions)."""

    type: str = spec_field(description="Type of condition in CamelCase, e.g. Ready.", max_length=316)
    status: str = spec_field(description="Status of the condition.", enum=["True", "False", "Unknown"])
    reason: str = spec_field(
        description="Programmatic identifier of the reason for the last transition, in CamelCase.",
        max_length=1024,
        min_length=1,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    )
    message: str = spec_field(description="Human readable details of the last transition.", max_length=32768)
    last_transition_time: str = spec_field(
        description="When the condition last changed status.", fmt="date-time"
    )
    observed_generation: int | None = spec_field(
        default=None, description="The .metadata.generation the condition was set from.", minimum=0
    )


@attrs.frozen(kw_only=True)
class Toleration:
    """A core/v1 Toleration, passed through to the serving pods."""

    key: str | None = spec_field(default=None, description="Taint key the toleration applies to.")
    operator: str | None = spec_field(
        default=None, description="Relationship to the value: Exists or Equal.", enum=["Exists", "Equal"]
    )
    value: str | None = spec_field(default=None, description="Taint value the toleration matches.")
    effect: str | None = spec_field(
        default=None,
        description="Taint effect to match; empty matches all effects.",
        enum=["NoSchedule", "PreferNoSchedule", "NoExecute"],
    )
    toleration_seconds: int | None = spec_field(
        default=None, description="How long a NoExecute taint is tolerated before eviction."
    )


@attrs.frozen(kw_only=True)
class SecretKeyRef:
    name: str = spec_field(description="Name of a Secret in the same namespace.", min_length=1)
    key: str = spec_field(
        default="token", description="Key inside the Secret.", schema_default="token", min_length=1
    )
