"""The local test cluster from Python: a thin wrapper of k8s-local.sh for tests.

    cluster = LocalCluster()
    cluster.up()                                  # k8s-local.sh up (idempotent)
    cluster.load("flightctl/user-manager:dev")    # docker image -> the node's containerd
    cluster.kubectl("get", "nodes")               # kubectl with the harness's kubeconfig and context
    cluster.down()                                # everything stopped and removed
    assert cluster.leftovers() == []              # k8s-local.sh check-clean, one entry per leftover

Standard library only: k8s-local.sh also runs this file with the host's python3 for
``resolve`` (a DNS query, to check that CoreDNS answers):

    python3 tests/cluster/cluster.py resolve kubernetes.default.svc.cluster.local --server 10.96.0.10
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "k8s-local.sh"
CONTEXT = "flightctl-local"


def versions() -> dict[str, str]:
    """The pinned versions (versions.env)."""
    pinned: dict[str, str] = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pinned[key.strip()] = value.strip()
    return pinned


def default_home() -> Path:
    configured = os.environ.get("FLIGHTCTL_K8S_HOME")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "flightctl" / "k8s"


@dataclass
class LocalCluster:
    """The single-node cluster of k8s-local.sh (one per machine: it owns fixed ports)."""

    home: Path = field(default_factory=default_home)
    timeout: float = 1800.0

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def context(self) -> str:
        return CONTEXT

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """k8s-local.sh ARGS; its progress (stderr) is passed through, stdout is returned."""
        env = {**os.environ, "FLIGHTCTL_K8S_HOME": str(self.home)}
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            timeout=timeout or self.timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"k8s-local.sh {' '.join(args)} exited {result.returncode}: {result.stdout.strip()}")
        return result

    def build(self) -> None:
        self.run("build")

    def images(self, *groups: str) -> None:
        self.run("images", *groups)

    def up(self) -> None:
        self.run("up")

    def down(self) -> None:
        self.run("down")

    def load(self, *images: str) -> None:
        self.run("load", *images)

    def deploy(self, *, dry_run: bool = False) -> None:
        self.run("deploy", *(["--dry-run"] if dry_run else []))

    def is_up(self) -> bool:
        if not self.kubeconfig.exists():
            return False
        return self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    def leftovers(self) -> list[str]:
        """What a cluster left on the machine ("KIND what" lines); empty when clean."""
        result = self.run("check-clean", check=False)
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        return [] if result.returncode == 0 else lines

    def record(self, what: str, seconds: float) -> None:
        """A line in timings.log, beside those of k8s-local.sh's own steps."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with (self.home / "timings.log").open("a") as log:
            log.write(f"{stamp}\t{what}\t{seconds:.0f}s\n")

    def kubectl_argv(self, *args: str) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--context", self.context, *args]

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        argv = self.kubectl_argv(*args)
        result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
        return result


# ---- DNS: one A query over UDP ----------------------------------------------------------------


def _query(name: str, ident: int) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)  # type A, class IN


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def resolve(name: str, server: str, port: int = 53, timeout: float = 2.0) -> list[str]:
    """The IPv4 addresses SERVER answers for NAME (empty when it answers none)."""
    ident = random.randrange(1 << 16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(_query(name, ident), (server, port))
        packet, _ = sock.recvfrom(4096)
    answer_id, flags, questions, answers = struct.unpack("!HHHH", packet[:8])
    if answer_id != ident or flags & 0x000F:
        return []
    offset = 12
    for _ in range(questions):
        offset = _skip_name(packet, offset) + 4
    found: list[str] = []
    for _ in range(answers):
        offset = _skip_name(packet, offset)
        kind, _klass, _ttl, length = struct.unpack("!HHIH", packet[offset : offset + 10])
        offset += 10
        if kind == 1 and length == 4:
            found.append(socket.inet_ntoa(packet[offset : offset + 4]))
        offset += length
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="helpers of the local test cluster")
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("resolve", help="print the A records a DNS server answers for a name")
    query.add_argument("name")
    query.add_argument("--server", required=True)
    query.add_argument("--port", type=int, default=53)
    args = parser.parse_args(argv)
    try:
        addresses = resolve(args.name, args.server, args.port)
    except OSError as error:
        print(f"no answer from {args.server}: {error}", file=sys.stderr)
        return 1
    print("\n".join(addresses))
    return 0 if addresses else 1


if __name__ == "__main__":
    sys.exit(main())
