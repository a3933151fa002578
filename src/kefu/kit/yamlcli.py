"""Import and export commands over YAML documents: read a file into a Pydantic model, run
the import as one write job (or a dry run that rolls back), and print every fault with its
file and line (``rules.yaml:12: rules.0.actions.1.team: no team 'Billing'``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape

from kefu.kit.errors import DomainError, Invalid
from kefu.kit.yamlfile import YamlDocument, YamlError, dump_yaml, load_yaml

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
console = Console()
err = Console(stderr=True)


class Store(Protocol):
    """What the commands need of ``kefu.db.Database`` (kit does not import it)."""

    def run_read(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def run_write(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def close(self) -> None: ...


def export_command(file: Path, open_store: Callable[[], Store], job: Callable[..., M]) -> M:
    """Read the document in one read job and write it to ``file`` (``-``: standard output)."""
    store = open_store()
    try:
        doc: M = store.run_read(job)
    finally:
        store.close()
    write_document(file, doc)
    return doc


def import_command(
    file: Path,
    model: type[M],
    open_store: Callable[[], Store],
    job: Callable[..., BaseModel],
    *,
    prune: bool,
    dry_run: bool,
) -> None:
    """Check ``file`` against ``model`` before touching the database, then import it all or
    nothing with ``job(ctx, doc, prune, warnings)`` and print what changed (or would)."""
    source, doc = read_document(file, model)
    store = open_store()
    try:
        result = run_import(file, source, store.run_write, job, dry_run, None, doc, prune, [])
    finally:
        store.close()
    report(result, dry_run)


class _DryRun(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


def write_document(file: Path, doc: BaseModel) -> None:
    text = dump_yaml(doc.model_dump(mode="json"))
    if str(file) == "-":
        typer.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")


def read_document(file: Path, model: type[M]) -> tuple[YamlDocument, M]:
    try:
        source = load_yaml(file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail([f"{file}: {exc.strerror}"])
    except YamlError as exc:
        fail([f"{file}:{exc.line or '?'}: {exc.message}"])
    try:
        return source, model.model_validate(source.data or {})
    except ValidationError as exc:
        fail([where(file, source, e["loc"]) + f" {e['msg']}" for e in exc.errors()])


def run_import(
    file: Path,
    source: YamlDocument,
    write: Callable[..., Any],
    job: Callable[..., R],
    dry_run: bool,
    *args: Any,
) -> R:
    """``write(job, *args)`` in one transaction; a dry run raises after the job, so its
    changes roll back. Faults are printed with their lines and end the command."""

    def rehearse(*a: Any) -> None:
        raise _DryRun(job(*a))

    try:
        result: R = write(rehearse if dry_run else job, *args)
    except _DryRun as dry:
        result = dry.result
    except Invalid as exc:
        fail([where(file, source, e.loc) + f" {e.msg}" for e in exc.errors])
    except DomainError as exc:
        fail([f"{file}: {exc.detail}"])
    return result


def where(file: Path, source: YamlDocument, loc: Any) -> str:
    path = ".".join(str(p) for p in loc)
    return f"{file}:{source.line_of(list(loc)) or '?'}: {path}:"


def report(result: BaseModel, dry_run: bool) -> None:
    verb = "would be" if dry_run else "were"
    for label, names in result.model_dump().items():
        if names:
            console.print(f"{label.replace('_', ' ')} ({verb}): {', '.join(names)}")
    if not any(result.model_dump().values()):
        console.print("nothing to import")


def fail(lines: list[str]) -> NoReturn:
    for line in lines:
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)
