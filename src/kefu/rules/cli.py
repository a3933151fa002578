"""``kefu rules export FILE.yaml`` and ``kefu rules import FILE.yaml``: rules and macros as
a YAML file, for review and version control. Errors name the YAML line of each fault."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.config import get_settings
from kefu.kit import yamlcli
from kefu.rules import transfer
from kefu.rules.schemas import RulesDocument
from kefu.runtime import Runtime

rules_app = typer.Typer(help="Automation rules and macros.", no_args_is_help=True)


def _open_db() -> yamlcli.Store:
    return Runtime.create(get_settings()).db


@rules_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="YAML file to write; - for standard output")],
) -> None:
    """Write every rule (in order) and macro as YAML."""
    doc = yamlcli.export_command(file, _open_db, transfer.export_document)
    if str(file) != "-":
        yamlcli.err.print(f"wrote {len(doc.rules)} rule(s), {len(doc.macros)} macro(s) to {file}")


@rules_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="YAML file written by kefu rules export")],
    prune: Annotated[bool, typer.Option(help="Delete rules the file does not list")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check and report; change nothing")] = False,
) -> None:
    """Create or replace rules and macros by name, all or nothing: if anything in the file
    is wrong, each fault is printed with its line and nothing changes."""
    yamlcli.import_command(
        file, RulesDocument, _open_db, transfer.import_document, prune=prune, dry_run=dry_run
    )
