"""The labels gitkube puts on every container it creates, so `docker ps` explains itself and a
restarted agent rebuilds what it observes by listing labels alone.
"""

from __future__ import annotations

MANAGED_BY = "gitkube.io/managed-by"  # value "gitkube"
POD_UID = "gitkube.io/pod-uid"
POD_NAME = "gitkube.io/pod"
POD_NAMESPACE = "gitkube.io/namespace"
CONTAINER_NAME = "gitkube.io/container"  # "POD" for the sandbox
ATTEMPT = "gitkube.io/attempt"  # restart count of this container when it was created
SPEC_HASH = "gitkube.io/spec-hash"  # hash of the container spec it was created from
ROLE = "gitkube.io/role"  # "sandbox" | "app"
NODE = "gitkube.io/node"  # node name the agent bound the pod to
CLUSTER = "gitkube.io/cluster"  # id of the state file that owns the container (Store.cluster_id)
SANDBOX_ID = "gitkube.io/sandbox-id"  # app containers: the sandbox whose namespaces they joined

SANDBOX = "POD"
MANAGED_BY_VALUE = "gitkube"
