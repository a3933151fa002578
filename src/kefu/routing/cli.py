"""``kefu simulate FILE.yaml``: the router on a simulated day, figures as a table and, on
the last line, one JSON object (service_level, asa_s, abandon_rate, occupancy, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from kefu.kit import yamlcli
from kefu.routing.simulate import Scenario, simulate

console = Console()


def simulate_cmd(
    file: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/routing-day.yaml)")],
    seed: Annotated[int | None, typer.Option(help="Overrides the scenario's seed")] = None,
    hours: Annotated[float | None, typer.Option(help="Overrides the simulated hours")] = None,
) -> None:
    """Simulate a contact centre on the real router (virtual clock, seeded): Poisson
    arrivals per queue, handle times, patience, a roster with skills. Prints service
    level, ASA, abandon rate and occupancy; a fault in the file is named with its line."""
    _source, scenario = yamlcli.read_document(file, Scenario)
    changes = {k: v for k, v in (("seed", seed), ("hours", hours)) if v is not None}
    report = simulate(scenario.model_copy(update=changes))
    console.print(_table(report))
    occupancy = report["occupancy"]
    console.print(f"occupancy {_pct(occupancy)} of staffed time", soft_wrap=True)
    typer.echo(orjson.dumps(report).decode())


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(report: dict[str, Any]) -> Table:
    table = Table(title="kefu simulate")
    for column in (
        "queue",
        "arrivals",
        "answered",
        "abandoned",
        "service level",
        "ASA",
        "abandon rate",
    ):
        table.add_column(column, justify="left" if column == "queue" else "right")
    rows = [*report["queues"].items(), ("all", report)]
    for name, figures in rows:
        asa = figures["asa_s"]
        table.add_row(
            name,
            str(figures["arrivals"]),
            str(figures["answered"]),
            str(figures["abandoned"]),
            _pct(figures["service_level"]),
            "-" if asa is None else f"{asa:.1f} s",
            _pct(figures["abandon_rate"]),
        )
    return table
