"""``kefu sla export`` / ``kefu sla import``: YAML round trip, errors with their line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kefu.calendars import service as calendars
from kefu.calendars.schemas import CalendarIn
from kefu.cli import app
from kefu.config import Settings
from kefu.runtime import Runtime
from kefu.sla import policies
from kefu.sla.schemas import PolicyIn

runner = CliRunner()

GOOD = """\
calendars:
  - name: Shanghai office
    time_zone: Asia/Shanghai
    week:
      mon: ["09:00-18:00"]
      tue: ["09:00-18:00"]
    holidays:
      - {date: 2026-10-01, end: 2026-10-07, name: 国庆节}
sla_policies:
  - name: Urgent
    match: {priority: [urgent]}
    calendar: Shanghai office
    targets: {first_response: 30m, resolution: 4h}
    warning: 10m
  - name: Default
    targets: {first_response: 4h}
"""

BAD = """\
calendars:
  - name: Shanghai office
    time_zone: Asia/Shanghai
    week:
      mon: ["09:00-18:00"]
sla_policies:
  - name: Urgent
    match: {priority: [urgent]}
    targets:
      first_response: soon
      resolution: 4h
  - name: Default
    targets: {first_response: 4h}
    on_breach:
      notify: [everyone]
"""


def _policy_names(runtime: Runtime) -> list[str]:
    return [p.name for p in runtime.db.run_read(policies.list_policies).items]


def test_import_then_export_round_trips(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "sla.yaml"
    source.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["sla", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "policies created (were): Urgent, Default" in result.output
    assert _policy_names(sync_runtime) == ["Urgent", "Default"]
    out = tmp_path / "out.yaml"
    result = runner.invoke(app, ["sla", "export", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "国庆节" in text
    assert "first_response: 30m" in text
    again = runner.invoke(app, ["sla", "import", str(out)])
    assert again.exit_code == 0, again.output
    assert "policies updated (were): Urgent, Default" in again.output
    versions = [p.version for p in sync_runtime.db.run_read(policies.list_policies).items]
    assert versions == [1, 1]  # nothing really changed


def test_errors_name_the_yaml_line_and_change_nothing(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["sla", "import", str(source)])
    assert result.exit_code == 1
    assert f"{source}:10: sla_policies.0.targets.first_response:" in result.output
    assert f"{source}:15: sla_policies.1.on_breach.notify.0:" in result.output
    assert _policy_names(sync_runtime) == []


def test_references_are_checked_against_the_database_with_their_line(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "refs.yaml"
    source.write_text(
        "sla_policies:\n"
        "  - name: Fine\n"
        "    targets: {first_response: 1h}\n"
        "  - name: Team\n"
        "    match:\n"
        "      team: [Nobody]\n"
        "    calendar: Atlantis\n"
        "    targets: {first_response: 1h}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sla", "import", str(source)])
    assert result.exit_code == 1
    assert f"{source}:6: sla_policies.1.match.team.0: no team named 'Nobody'" in result.output
    assert f"{source}:7: sla_policies.1.calendar: no calendar named 'Atlantis'" in result.output
    assert _policy_names(sync_runtime) == []  # "Fine" was valid, but it is all or nothing


def test_yaml_syntax_errors_and_duplicate_keys_have_lines(
    cli_env: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("sla_policies:\n  - name: [oops\n", encoding="utf-8")
    result = runner.invoke(app, ["sla", "import", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:3:" in result.output
    twice = tmp_path / "twice.yaml"
    twice.write_text("sla_policies: []\nsla_policies: []\n", encoding="utf-8")
    result = runner.invoke(app, ["sla", "import", str(twice)])
    assert f"{twice}:2: duplicate key 'sla_policies'" in result.output


def test_dry_run_and_prune(cli_env: Settings, sync_runtime: Runtime, tmp_path: Path) -> None:
    sync_runtime.db.run_write(
        calendars.create_calendar,
        None,
        CalendarIn(name="UK", time_zone="Europe/London", week={"mon": ["09:00-17:00"]}),
    )
    sync_runtime.db.run_write(
        policies.create_policy,
        None,
        PolicyIn.model_validate({"name": "Old", "targets": {"resolution": "1d"}}),
    )
    source = tmp_path / "sla.yaml"
    source.write_text(GOOD, encoding="utf-8")
    dry = runner.invoke(app, ["sla", "import", str(source), "--prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "policies deleted (would be): Old" in dry.output
    assert _policy_names(sync_runtime) == ["Old"]
    real = runner.invoke(app, ["sla", "import", str(source), "--prune"])
    assert real.exit_code == 0, real.output
    assert _policy_names(sync_runtime) == ["Urgent", "Default"]
