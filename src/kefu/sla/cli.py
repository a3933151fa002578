"""``kefu sla export FILE.yaml`` and ``kefu sla import FILE.yaml``: calendars and SLA
policies as a YAML file, for review and version control. Errors name the YAML line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.config import get_settings
from kefu.kit import yamlcli
from kefu.runtime import Runtime
from kefu.sla import transfer
from kefu.sla.schemas import SlaDocument

sla_app = typer.Typer(help="Business-hours calendars and SLA policies.", no_args_is_help=True)


def _open_db() -> yamlcli.Store:
    return Runtime.create(get_settings()).db


@sla_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="YAML file to write; - for standard output")],
) -> None:
    """Write every calendar and SLA policy, in policy order, as YAML."""
    doc = yamlcli.export_command(file, _open_db, transfer.export_document)
    if str(file) != "-":
        count = f"{len(doc.calendars)} calendar(s), {len(doc.sla_policies)} policy(ies)"
        yamlcli.err.print(f"wrote {count} to {file}")


@sla_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="YAML file written by kefu sla export")],
    prune: Annotated[bool, typer.Option(help="Delete policies the file does not list")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check and report; change nothing")] = False,
) -> None:
    """Create or replace calendars and policies by name, all or nothing: if anything in
    the file is wrong, each fault is printed with its line and nothing changes."""
    yamlcli.import_command(
        file, SlaDocument, _open_db, transfer.import_document, prune=prune, dry_run=dry_run
    )
