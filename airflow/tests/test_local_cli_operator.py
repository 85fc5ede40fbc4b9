"""InstaproCliOperator on its own: exit codes, output in the log, inherited environment."""

from __future__ import annotations

import sys
import pytest

from instapro_airflow.local_cli import InstaproCliOperator

# A stand-in CLI: prints its arguments and one settings variable, then exits with the code
# given as its first argument.
FAKE_CLI = [
    sys.executable,
    "-c",
    "import os, sys; "
    "print('args:', ' '.join(sys.argv[2:])); "
    "print('schema:', os.environ.get('INSTAPRO_SCHEMA')); "
    "print('problem on stderr', file=sys.stderr); "
    "sys.exit(int(sys.argv[1]))",
]


def operator(exit_code: int, *arguments: str, **kwargs) -> InstaproCliOperator:
    return InstaproCliOperator(
        task_id="step", cli_command=[*FAKE_CLI, str(exit_code)], arguments=list(arguments), **kwargs
    )


def test_success_logs_stdout_and_stderr_and_inherits_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("INSTAPRO_SCHEMA", "from_the_worker")
    operator(0, "snapshot", "--from", "2020-03-01").execute({})
    log = capsys.readouterr().out
    assert "[cli stdout] args: snapshot --from 2020-03-01" in log
    assert "[cli stdout] schema: from_the_worker" in log
    assert "[cli stderr] problem on stderr" in log


def test_non_zero_exit_fails_the_task_and_keeps_the_output(capsys):
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="exited with code 3"):
        operator(3, "test").execute({})
    assert "[cli stderr] problem on stderr" in capsys.readouterr().out


def test_runs_in_the_working_directory(tmp_path, capsys):
    InstaproCliOperator(
        task_id="step",
        cli_command=[sys.executable, "-c", "import os; print('cwd:', os.getcwd())"],
        arguments=[],
        working_directory=str(tmp_path),
    ).execute({})
    assert f"cwd: {tmp_path}" in capsys.readouterr().out


def test_missing_program_is_a_clear_failure(tmp_path):
    from airflow.sdk.exceptions import AirflowException

    task = InstaproCliOperator(task_id="step", cli_command=[str(tmp_path / "no-such-cli")], arguments=["ingest"])
    with pytest.raises(AirflowException, match="cannot start .*INSTAPRO_CLI"):
        task.execute({})


def test_unbuilt_cli_says_how_to_build_it(tmp_path):
    from airflow.sdk.exceptions import AirflowException

    script = tmp_path / "dist" / "cli" / "main.js"
    task = InstaproCliOperator(task_id="step", cli_command=["node", str(script)], arguments=["ingest"])
    with pytest.raises(AirflowException, match=r"npm ci && npm run build"):
        task.execute({})


def test_timeout_stops_the_cli(tmp_path):
    """execution_timeout interrupts execute() (SIGALRM, as in Airflow's task runner); the CLI must not outlive it."""
    import os
    import time

    from airflow.sdk.exceptions import AirflowTaskTimeout
    from airflow.sdk.execution_time.timeout import timeout

    pid_file = tmp_path / "cli.pid"
    task = InstaproCliOperator(
        task_id="step",
        cli_command=[
            sys.executable,
            "-c",
            f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)",
        ],
        arguments=[],
    )
    started = time.monotonic()
    with pytest.raises(AirflowTaskTimeout), timeout(2):
        task.execute({})
    assert time.monotonic() - started < 20
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
