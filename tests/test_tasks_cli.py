"""``medshake-bridge tasks list|run``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from scheduler_helpers import medshake_test_jobs, runs

from medshake_bridge import migrate


@pytest.fixture
def jobs_cli(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[medshake_test_jobs])
    migrate.upgrade(app)
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["bridge", *args])

    return app, invoke


def test_tasks_list_shows_schedule_next_run_and_last_outcome(jobs_cli):
    app, invoke = jobs_cli
    result = invoke("tasks", "list")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines()
                if line.startswith("apicrypt-collect"))
    assert "yes" in line and "*/5 8-20 * * 1-6" in line and line.endswith("never")
    assert "work-folders-cleanup" in result.output and "0 20 * * *" in result.output
    invoke("tasks", "run", "test-tick")
    line = next(line for line in invoke("tasks", "list").output.splitlines()
                if line.startswith("test-tick"))
    assert " ok (" in line


def test_tasks_run_runs_now_and_records_it(jobs_cli):
    app, invoke = jobs_cli
    result = invoke("tasks", "run", "test-tick")
    assert result.exit_code == 0, result.output
    assert "test-tick: ok (ticks 1" in result.output
    (run,) = runs(app, "test-tick")
    assert (run.trigger, run.outcome) == ("cli", "ok")


def test_tasks_run_of_a_failing_job_exits_1_with_the_error(jobs_cli):
    app, invoke = jobs_cli
    result = invoke("tasks", "run", "test-boom")
    assert result.exit_code == 1
    assert "RuntimeError: boom on purpose" in result.output
    assert runs(app, "test-boom")[0].outcome == "failed"


def test_tasks_run_of_an_unknown_job_names_the_known_ones(jobs_cli):
    _, invoke = jobs_cli
    result = invoke("tasks", "run", "nope")
    assert result.exit_code != 0
    assert "no scheduled job 'nope'" in result.output and "apicrypt-collect" in result.output


def test_tasks_commands_exist_at_the_top_level():
    from medshake_bridge.cli import main

    result = CliRunner().invoke(main, ["tasks", "--help"])
    assert result.exit_code == 0 and "list" in result.output and "run" in result.output
    assert "scheduler" in CliRunner().invoke(main, ["--help"]).output
