"""``kefu rules export`` / ``kefu rules import``: YAML round trip, every fault with its line,
all or nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kefu.accounts import service as accounts
from kefu.accounts.schemas import TeamCreate
from kefu.cli import app
from kefu.config import Settings
from kefu.rules import service
from kefu.runtime import Runtime

runner = CliRunner()

GOOD = """\
rules:
  - name: 退款分类
    trigger: [ticket.created]
    conditions:
      all:
        - {field: ticket.text, op: contains, value: [退款, refund]}
    actions:
      - {type: assign, team: Billing}
      - {type: add_tags, tags: [refund]}
  - name: Pending reminder
    trigger: [time]
    conditions:
      all:
        - {field: ticket.status, op: is, value: pending}
        - {field: ticket.since_status, op: gte, value: 3, unit: days}
    actions:
      - {type: reply, body: "Still there, {{ requester.first_name }}?"}
macros:
  - name: Spam
    actions:
      - {type: set_field, field: status, value: closed}
"""

BAD = """\
rules:
  - name: Fine
    trigger: [ticket.created]
    actions:
      - {type: send_survey}
  - name: Broken
    trigger: [ticket.created]
    conditions:
      any:
        - field: ticket.priority
          op: gte
          value: sky-high
    actions:
      - type: assign
        team: Nowhere
      - type: reply
        body: "{{ oops"
"""


def _names(runtime: Runtime) -> list[str]:
    return [r.name for r in runtime.db.run_read(service.list_rules).items]


def test_import_then_export_round_trips(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    sync_runtime.db.run_write(accounts.create_team, TeamCreate(name="Billing"))
    source = tmp_path / "rules.yaml"
    source.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["rules", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "rules created (were): 退款分类, Pending reminder" in result.output
    assert _names(sync_runtime) == ["退款分类", "Pending reminder"]
    out = tmp_path / "out.yaml"
    result = runner.invoke(app, ["rules", "export", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "name: 退款分类" in text and "position" not in text
    again = runner.invoke(app, ["rules", "import", str(out)])
    assert "rules updated (were): 退款分类, Pending reminder" in again.output
    versions = [r.version for r in sync_runtime.db.run_read(service.list_rules).items]
    assert versions == [1, 1]  # nothing really changed


def test_errors_name_the_yaml_line_and_change_nothing(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["rules", "import", str(source)])
    assert result.exit_code == 1
    assert f"{source}:12: rules.1.conditions.any.0.value: 'sky-high' is not one of" in result.output
    assert f"{source}:15: rules.1.actions.0.team: no team 'Nowhere'" in result.output
    assert f"{source}:17: rules.1.actions.1.body: template error" in result.output
    assert _names(sync_runtime) == []  # "Fine" was valid, but it is all or nothing


def test_a_dry_run_reports_and_changes_nothing(
    cli_env: Settings, sync_runtime: Runtime, tmp_path: Path
) -> None:
    sync_runtime.db.run_write(accounts.create_team, TeamCreate(name="Billing"))
    source = tmp_path / "rules.yaml"
    source.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["rules", "import", "--dry-run", str(source)])
    assert result.exit_code == 0, result.output
    assert "rules created (would be): 退款分类, Pending reminder" in result.output
    assert _names(sync_runtime) == []
