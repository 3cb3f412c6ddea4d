"""Where the cluster mode deploys: a :class:`Target` names the cluster (its kubectl context and
kubeconfig) and how the service images reach its nodes.

- the ``kind`` context: the Kind cluster ``flightctl`` that flightctl itself creates and deletes
  (kube context ``kind-flightctl``), images loaded with ``kind load docker-image``;
- the ``cluster`` context: an existing cluster flightctl only deploys into (and removes its
  namespace from, never the cluster), images delivered by one of
  ``kind`` (another Kind cluster: ``kind load docker-image --name NAME``),
  ``containerd`` (a node on this machine: ``docker save | ctr -n k8s.io images import -``) or
  ``registry`` (``docker push`` to HOST/PREFIX, the manifests' image names rewritten to the
  pushed digests).

The cluster target is remembered in ``$FLIGHTCTL_HOME/config.json`` (key ``cluster``) by
``flightctl up --kube-context ...`` and ``flightctl context use cluster --kube-context ...``, so
``status``, ``logs``, ``port-forward`` and ``down`` find it again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from flightctl.errors import UsageError
from flightctl.kind import layout
from flightctl.platform.layout import Home

KIND, CLUSTER = "kind", "cluster"
IMAGE_LOADS = ("kind", "containerd", "registry")
_REGISTRY = re.compile(r"[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*")


@dataclass(frozen=True)
class Target:
    context: str
    """The flightctl context it serves: kind or cluster."""
    kube_context: str
    kubeconfig: str | None = None
    image_load: str = "kind"
    kind_cluster: str | None = None
    """image_load kind: the Kind cluster's name (``kind load ... --name``)."""
    registry: str | None = None
    """image_load registry: HOST[:PORT][/PREFIX] the images are pushed to."""
    containerd_address: str | None = None
    """image_load containerd: the containerd socket (default: ctr's own, /run/containerd/containerd.sock)."""

    @classmethod
    def kind(cls) -> Target:
        """The Kind cluster flightctl owns."""
        return cls(KIND, layout.KUBE_CONTEXT, image_load="kind", kind_cluster=layout.CLUSTER)

    @classmethod
    def cluster(
        cls,
        kube_context: str,
        *,
        kubeconfig: str | None = None,
        image_load: str | None = None,
        registry: str | None = None,
        containerd_address: str | None = None,
    ) -> Target:
        """An existing cluster. Without ``image_load``: ``registry`` when one is given, ``kind``
        for a kube context named ``kind-NAME`` (Kind's own naming), else a UsageError asking."""
        if not kube_context or not kube_context.strip():
            raise UsageError("--kube-context needs the name of a kubectl context (kubectl config get-contexts)")
        if registry is not None:
            registry = registry.strip().rstrip("/")
            if not _REGISTRY.fullmatch(registry):
                raise UsageError(
                    f"--registry {registry!r} is not HOST[:PORT][/PREFIX] (e.g. registry.example.com:5000/flightctl)"
                )
        if image_load is None:
            if registry:
                image_load = "registry"
            elif kube_context.startswith("kind-"):
                image_load = "kind"
            else:
                raise UsageError(
                    f"how do the images reach the cluster {kube_context!r}? --image-load containerd (its node is "
                    "this machine), --registry HOST/PREFIX (pushed there), or --image-load kind (a Kind cluster)"
                )
        if image_load not in IMAGE_LOADS:
            raise UsageError(f"--image-load must be one of {', '.join(IMAGE_LOADS)}, not {image_load!r}")
        if image_load == "registry" and not registry:
            raise UsageError("--image-load registry needs --registry HOST[:PORT][/PREFIX]")
        kind_cluster = None
        if image_load == "kind":
            if not kube_context.startswith("kind-"):
                raise UsageError(
                    f"--image-load kind loads into the Kind cluster NAME of the kube context kind-NAME; "
                    f"{kube_context!r} is not one"
                )
            kind_cluster = kube_context.removeprefix("kind-")
        return cls(
            CLUSTER,
            kube_context.strip(),
            kubeconfig=kubeconfig,
            image_load=image_load,
            kind_cluster=kind_cluster,
            registry=registry if image_load == "registry" else None,
            containerd_address=containerd_address if image_load == "containerd" else None,
        )

    @property
    def owned(self) -> bool:
        """flightctl creates and deletes this cluster (the kind context only)."""
        return self.context == KIND

    def kubectl(self, *args: str, namespace: str | None = None) -> list[str]:
        """kubectl with this target's kubeconfig and context, so no other cluster is touched."""
        config = ["--kubeconfig", self.kubeconfig] if self.kubeconfig else []
        return ["kubectl", *config, "--context", self.kube_context, *(["-n", namespace] if namespace else []), *args]

    def state_dir(self, home: Home) -> Path:
        """What flightctl keeps for this target: $FLIGHTCTL_HOME/kind, or
        $FLIGHTCTL_HOME/cluster/<kube context> (secrets, certificate, build context, forwards)."""
        if self.owned:
            return layout.kind_dir(home)
        return home.path("cluster", re.sub(r"[^A-Za-z0-9._-]", "_", self.kube_context))

    def describe(self) -> str:
        if self.owned:
            return f"the kind cluster {self.kind_cluster!r}"
        return f"the cluster of kube context {self.kube_context!r}"

    def to_config(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "context" and v is not None}

    @classmethod
    def from_config(cls, data: Any) -> Target | None:
        """The remembered cluster target (config.json ``cluster``), or None when there is none."""
        if not isinstance(data, dict) or not data.get("kube_context"):
            return None
        known = {f.name for f in fields(cls)} - {"context", "kind_cluster"}
        values = {k: v for k, v in data.items() if k in known}
        return cls.cluster(**values)
