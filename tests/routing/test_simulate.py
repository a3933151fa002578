"""``kefu simulate``: the simulation agrees with Erlang C where Erlang C holds (M/M/c, no
abandonment), is reproducible from its seed, reacts to abandonment and overflow, and names
the line of a fault in the scenario."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.routing.simulate import Scenario, simulate

EXAMPLE = Path(__file__).parents[2] / "examples" / "routing-day.yaml"


def erlang_c(
    arrivals_per_hour: float, aht_s: float, agents: int, threshold_s: float
) -> tuple[float, float]:
    """(service level within threshold, ASA) of an M/M/c queue."""
    load = arrivals_per_hour * aht_s / 3600
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    waits = top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)
    service_level = 1 - waits * math.exp(-(agents - load) * threshold_s / aht_s)
    return service_level, waits * aht_s / (agents - load)


def mmc(**overrides: object) -> Scenario:
    scenario = {
        "seed": 3,
        "hours": 400,
        "warmup_minutes": 60,
        "queues": [
            {
                "name": "calls",
                "media": "voice",
                "arrivals_per_hour": 200,
                "handle_time": {"distribution": "exponential", "mean_s": 180},
                "sl_threshold_s": 20,
            }
        ],
        "agents": [{"count": 12, "capacity": {"voice": 1}}],
    }
    scenario.update(overrides)
    return Scenario.model_validate(scenario)


def test_the_simulation_agrees_with_erlang_c() -> None:
    # Waits at 83 % occupancy are strongly correlated in time: average a few seeded days.
    reports = [simulate(mmc(seed=seed, hours=300)) for seed in (1, 2, 3)]
    service_level, asa = erlang_c(200, 180, 12, 20)
    mean = {k: sum(r[k] for r in reports) / len(reports) for k in ("service_level", "asa_s")}
    assert mean["service_level"] == pytest.approx(service_level, abs=0.025)
    assert mean["asa_s"] == pytest.approx(asa, rel=0.12)
    for report in reports:
        assert report["occupancy"] == pytest.approx(200 * 180 / 3600 / 12, abs=0.02)
        assert report["abandon_rate"] == 0


def test_the_same_seed_gives_the_same_day() -> None:
    one, two = simulate(mmc(hours=20)), simulate(mmc(hours=20))
    assert one == two
    assert simulate(mmc(hours=20, seed=4)) != one


def test_impatient_callers_abandon_and_fewer_agents_mean_longer_waits() -> None:
    patient = simulate(mmc(hours=50))
    queues = mmc().model_dump()["queues"]
    queues[0]["patience"] = {"distribution": "exponential", "mean_s": 30}
    impatient = simulate(mmc(hours=50, queues=queues, agents=[{"count": 10}]))
    assert patient["abandon_rate"] == 0
    assert impatient["abandon_rate"] > 0.05
    assert impatient["asa_s"] < patient["asa_s"]


def test_overflow_moves_work_to_a_queue_with_agents() -> None:
    scenario = {
        "hours": 10,
        "queues": [
            {
                "name": "experts",
                "media": "chat",
                "arrivals_per_hour": 30,
                "skills": {"tax": 5},
                "handle_time": {"mean_s": 300},
                "overflow": [{"after_s": 30, "action": "move", "queue": "general"}],
            },
            {
                "name": "general",
                "media": "chat",
                "arrivals_per_hour": 0,
                "handle_time": {"mean_s": 300},
            },
        ],
        "agents": [{"count": 4, "capacity": {"chat": 2}}],
    }
    report = simulate(Scenario.model_validate(scenario))
    assert report["queues"]["experts"]["answered"] == report["queues"]["experts"]["arrivals"]
    assert report["queues"]["experts"]["asa_s"] >= 30


def test_the_command_prints_json_last() -> None:
    result = CliRunner().invoke(app, ["simulate", str(EXAMPLE), "--hours", "2"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert {"service_level", "asa_s", "abandon_rate", "occupancy"} <= set(last)
    assert 0 < last["occupancy"] < 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("queues: [\n  {name: a,\n", ":3:"),
        (
            "queues:\n  - name: a\n    arrivals_per_hour: -1\n    handle_time: {mean_s: 5}\n"
            "agents: [{count: 1}]\n",
            ":3: queues.0.arrivals_per_hour",
        ),
        (
            "queues:\n  - name: a\n    arrivals_per_hour: 1\n    handle_time:\n"
            "      distribution: lognormal\n      mean_s: 5\nagents: [{count: 1}]\n",
            ":4: queues.0.handle_time",
        ),
        ("queues: []\nagents: [{count: 1}]\n", ":1: queues"),
    ],
)
def test_a_bad_scenario_is_named_with_its_line(tmp_path: Path, text: str, where: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    result = CliRunner().invoke(app, ["simulate", str(file)])
    assert result.exit_code != 0
    assert where in result.output.replace("\n", " "), result.output
