"""The manifests' environment agrees with the services' settings classes (flightctl.config):
a service container sets only variables its service declares, sets every one the service
requires, and takes every secret from the Secret flightctl-secrets under a key derived there."""

from __future__ import annotations

import re
from typing import Any

from flightctl import config
from flightctl.config import SETTINGS, SetBy, catalogue

from .kube import Manifest, all_containers, env_of, workloads

SECRET = "flightctl-secrets"
REFERENCE = re.compile(r"\$\(([A-Z0-9_]+)\)")


def service_containers(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    found = {}
    for workload in workloads(manifests):
        if workload["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "service":
            [server] = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == "server"]
            found[workload["metadata"]["name"]] = server
    return found


def secret_key(entry: dict[str, Any]) -> dict[str, Any] | None:
    ref = entry.get("valueFrom", {}).get("secretKeyRef")
    return ref if ref is not None and ref["name"] == SECRET else None


def test_every_service_runs_from_the_manifests(manifests: list[Manifest]) -> None:
    assert set(service_containers(manifests)) == set(SETTINGS)


def test_a_service_container_sets_only_declared_variables(manifests: list[Manifest]) -> None:
    for service, container in service_containers(manifests).items():
        env = env_of(container)
        declared = {v.name for v in catalogue().values() if service in v.services}
        # A helper only interpolated into another value ($(DB_PASSWORD) in DATABASE_URL) is no setting.
        helpers = {name for e in env.values() for name in REFERENCE.findall(str(e.get("value", "")))}
        assert set(env) - helpers <= declared, f"{service} sets {sorted(set(env) - helpers - declared)}"
        assert helpers <= set(env), f"{service} interpolates a variable it does not set"
        missing = {v.name for v in catalogue().values() if service in v.services and v.required} - set(env)
        assert not missing, f"{service} would not start: {sorted(missing)} unset"
        assert {"configMapRef": {"name": "flightctl-settings", "optional": True}} in container["envFrom"]


def test_every_secret_comes_from_the_secret_under_its_own_name(manifests: list[Manifest]) -> None:
    for service, container in service_containers(manifests).items():
        env = env_of(container)
        for variable in catalogue().values():
            if service not in variable.services or not variable.secret:
                continue
            if variable.set_by is SetBy.PROCESS:
                continue
            ref = secret_key(env.get(variable.name, {}))
            assert ref is not None and ref["key"] == variable.name, f"{service}: {variable.name} from {SECRET}"
            # The operator's secrets may be absent from the Secret; the generated ones never are.
            assert ref.get("optional", False) == (variable.set_by is SetBy.OPERATOR), (service, variable.name)
        for name, entry in env.items():
            if name in catalogue() and catalogue()[name].secret:
                assert "value" not in entry, f"{service}: {name} is secret, never a literal"


def test_every_key_taken_from_the_secret_is_a_derived_key(manifests: list[Manifest]) -> None:
    keys = {*config.GENERATED_SECRETS, *config.OPTIONAL_SECRETS}
    used = set()
    for workload in workloads(manifests):
        for container in all_containers(workload):
            for entry in container.get("env", []):
                ref = secret_key(entry)
                if ref is not None:
                    assert ref["key"] in keys, f"{workload['metadata']['name']}: {ref['key']} is no key of {SECRET}"
                    used.add(ref["key"])
    assert used == keys, f"keys nothing reads: {sorted(keys - used)}"
