"""`flightctl backup [DIR]` and `flightctl restore DIR`: every service database (pg_dump, custom
format) and the SLA configuration, with a manifest, for the local platform and a cluster.

A backup directory holds one ``<database>.dump`` per service database, ``sla-config.json`` and
``manifest.json``: the format, when it was made, from which context, flightctl's version, the
PostgreSQL server's version, and each file's size and SHA-256.

A restore first checks the whole backup (manifest, every file's checksum, a dump that
``pg_restore --list`` can read when pg_restore is installed here, a server not older than the
one dumped) and refuses with one line before anything is touched. It then restores each
database into a new database beside it (``<name>__restore``, one transaction per dump) and,
only once all of them are complete, swaps each in (connections to the old one closed, the old
one renamed away and dropped): a failure leaves the running databases as they were. The SLA
configuration is posted through the detector's API (validated and applied at once). The
services keep running; their connection pools reconnect to the restored databases.

Where the databases are is a :class:`Server`: :class:`flightctl.local.backup.LocalServer` (the
private PostgreSQL under ``$FLIGHTCTL_HOME``) or :class:`flightctl.kind.backup.PodServer`
(``kubectl exec`` into the cluster's PostgreSQL pod).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flightctl.errors import FlightctlError

FORMAT = 1
MANIFEST = "manifest.json"
SLA_FILE = "sla-config.json"
RESTORING, REPLACED = "__restore", "__replaced"


class Server(Protocol):
    """The PostgreSQL server that holds the service databases."""

    context: str

    def server_version(self) -> str:
        """``SHOW server_version`` (e.g. ``15.13``)."""

    def dump(self, database: str, target: Path) -> None:
        """``pg_dump -Fc`` of ``database`` into the file ``target``."""

    def restore_into(self, database: str, new: str, dump: Path) -> None:
        """Create ``new`` (owned as ``database`` is) and restore ``dump`` into it in one
        transaction; a failure drops ``new`` again."""

    def execute(self, statements: list[str]) -> None:
        """Run SQL statements one by one, outside any transaction, on the maintenance database."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def major(version: str) -> int:
    try:
        return int(version.split(".")[0].split()[0])
    except (ValueError, IndexError):
        raise FlightctlError(f"cannot read the PostgreSQL version {version!r}") from None


def default_directory(home: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return home / "backups" / stamp


def backup(
    server: Server,
    databases: Mapping[str, str],
    sla_config: dict[str, Any],
    directory: Path,
    *,
    version: str,
    progress: Callable[[str], None] = lambda _m: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Dump every database (``databases``: service -> database) and write ``sla_config`` and the
    manifest into ``directory`` (new, or empty); returns the manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise FlightctlError(f"{directory} is not empty; give a new directory for the backup")
    partial = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now().isoformat(timespec="seconds"),
            "context": server.context,
            "flightctl_version": version,
            "postgres_version": server.server_version(),
            "databases": {},
        }
        for service, database in databases.items():
            progress(f"dumping {database}")
            target = partial / f"{database}.dump"
            server.dump(database, target)
            manifest["databases"][service] = _entry(database, target)
        (partial / SLA_FILE).write_text(json.dumps(sla_config, indent=2, sort_keys=True))
        manifest["sla_config"] = _entry(None, partial / SLA_FILE)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if directory.exists():
            directory.rmdir()
        partial.rename(directory)  # a backup directory is complete, or absent
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _entry(database: str | None, path: Path) -> dict[str, Any]:
    return {
        **({"database": database} if database else {}),
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
    }


def check(directory: Path, databases: Mapping[str, str], server_version: str, pg_restore: str | None) -> dict[str, Any]:
    """The manifest of a complete, undamaged backup of ``databases`` that this server can take;
    otherwise one clear error."""
    path = directory / MANIFEST
    if not path.is_file():
        raise FlightctlError(f"{directory} is not a flightctl backup: no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text())
        entries = [manifest["sla_config"], *manifest["databases"].values()]
        backup_version = str(manifest["postgres_version"])
        form = manifest["format"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FlightctlError(f"{path} is damaged (not a manifest flightctl wrote)") from None
    if form != FORMAT:
        raise FlightctlError(f"{directory}: backup format {form} is not supported (this flightctl reads {FORMAT})")
    if set(manifest["databases"]) != set(databases):
        raise FlightctlError(
            f"{directory} holds the databases of {', '.join(sorted(manifest['databases']))}, "
            f"not those of {', '.join(sorted(databases))}"
        )
    for service, entry in manifest["databases"].items():
        if entry.get("database") != databases[service]:
            found = entry.get("database")
            raise FlightctlError(f"{directory}: {service}'s database is {databases[service]}, not {found}")
    if major(backup_version) > major(server_version):
        raise FlightctlError(
            f"{directory} was dumped from PostgreSQL {backup_version}; this server ({server_version}) is older"
        )
    for entry in entries:
        file = directory / str(entry.get("file", ""))
        if not file.is_file():
            raise FlightctlError(f"{directory}: {entry.get('file')} is missing")
        if file.stat().st_size != entry.get("bytes") or sha256(file) != entry.get("sha256"):
            raise FlightctlError(f"{file} is damaged: its checksum does not match the manifest")
    if pg_restore:
        for entry in manifest["databases"].values():
            listed = subprocess.run(
                [pg_restore, "--list", str(directory / entry["file"])], capture_output=True, text=True, check=False
            )
            if listed.returncode != 0:
                raise FlightctlError(f"{directory / entry['file']} is not a dump pg_restore can read")
    try:
        json.loads((directory / manifest["sla_config"]["file"]).read_text())
    except ValueError:
        raise FlightctlError(f"{directory}: the SLA configuration is not JSON") from None
    return dict(manifest)


def swap_statements(database: str) -> list[str]:
    """Put ``<database>__restore`` in the place of ``database``: no new connections to the old
    one, the open ones closed, renamed away, the restored one renamed in, the old one dropped."""
    new, old = database + RESTORING, database + REPLACED
    return [
        f'DROP DATABASE IF EXISTS "{old}"',
        f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = '{database}'",  # noqa: S608 - a name of DATABASES
        f'ALTER DATABASE "{database}" RENAME TO "{old}"',
        f'ALTER DATABASE "{new}" RENAME TO "{database}"',
        f'DROP DATABASE "{old}"',
    ]


def restore(
    server: Server,
    databases: Mapping[str, str],
    directory: Path,
    manifest: Mapping[str, Any],
    apply_sla_config: Callable[[dict[str, Any]], object],
    *,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[str]:
    """Restore a :func:`check`-ed backup; returns the databases restored."""
    entries = manifest["databases"]
    restored: list[str] = []
    try:
        for service, database in databases.items():
            progress(f"restoring {database} into {database + RESTORING}")
            server.restore_into(database, database + RESTORING, directory / entries[service]["file"])
            restored.append(database)
    except BaseException:
        server.execute([f'DROP DATABASE IF EXISTS "{d + RESTORING}"' for d in restored])
        raise
    for database in restored:
        progress(f"swapping in {database}")
        server.execute(swap_statements(database))
    progress("SLA configuration")
    apply_sla_config(json.loads((directory / manifest["sla_config"]["file"]).read_text()))
    return restored
