"""`flightctl backup [DIR]` and `flightctl restore DIR`: every service database and the SLA
configuration, of the local platform or a cluster (flightctl.platform.backup)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from flightctl.cli.context import Context
from flightctl.cli.output import emit
from flightctl.errors import UsageError

cli = typer.Typer(rich_markup_mode=None)


def _server(obj: Context) -> Any:
    platform = obj.platform()
    server = getattr(platform, "database_server", None)
    if server is None:
        raise UsageError(f"backup and restore are not available for the {obj.context} context")
    return server()


@cli.command()
def backup(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(help="a new (or empty) directory; default $FLIGHTCTL_HOME/backups/<UTC time>"),
    ] = None,
) -> None:
    """Dump every service database (pg_dump, custom format) and the SLA configuration, with a
    manifest of versions, time and checksums."""
    from flightctl.local.postgres import DATABASES
    from flightctl.platform import backup as backups
    from flightctl.versions import package_version

    obj: Context = ctx.obj
    server = _server(obj)
    target = (directory or backups.default_directory(obj.home.root)).resolve()
    manifest = backups.backup(
        server, DATABASES, obj.sla.config(), target, version=package_version(), progress=obj.progress
    )
    summary = {"directory": str(target), **manifest}
    if obj.output != "table":
        emit(summary, obj.output)
        return
    typer.echo(f"backup of {manifest['context']} in {target}")
    for service, entry in manifest["databases"].items():
        typer.echo(f"  {entry['database']:<16}{entry['bytes']:>12,} bytes  ({service})")
    typer.echo(f"  {'sla config':<16}{manifest['sla_config']['bytes']:>12,} bytes")


@cli.command()
def restore(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="a directory `flightctl backup` wrote")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before replacing the databases")] = False,
) -> None:
    """Replace every service database and the SLA configuration with a backup's. The whole
    backup is checked first; each database is restored beside the running one and swapped in
    only when all are complete."""
    from flightctl.errors import PrerequisiteMissing
    from flightctl.local import postgres
    from flightctl.platform import backup as backups

    obj: Context = ctx.obj
    server = _server(obj)
    try:
        pg_restore: str | None = postgres.bin_path("pg_restore")
    except PrerequisiteMissing:
        pg_restore = None  # the checksums still guard the files
    manifest = backups.check(directory.resolve(), postgres.DATABASES, server.server_version(), pg_restore)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("restore replaces every service database; pass --yes to confirm")
        typer.confirm(
            f"replace the databases of {server.context} with the backup of {manifest['created_at']}?", abort=True
        )
    restored = backups.restore(
        server,
        postgres.DATABASES,
        directory.resolve(),
        manifest,
        lambda config: obj.sla.set_config(config),
        progress=obj.progress,
    )
    result = {"directory": str(directory.resolve()), "created_at": manifest["created_at"], "restored": restored}
    if obj.output != "table":
        emit(result, obj.output)
        return
    typer.echo(f"restored {', '.join(restored)} and the SLA configuration from {manifest['created_at']}")
