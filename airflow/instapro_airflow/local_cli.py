"""Runs one instapro CLI command as a subprocess of the Airflow worker (``local`` mode).

It is the local stand-in for the KubernetesPodOperator: same ``arguments`` (templated the
same way), but instead of a pod with the ConfigMap and Secret, the CLI inherits the
worker's environment, which is where the INSTAPRO_* settings live on a developer machine.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

# How long a CLI gets to exit after SIGTERM (task killed or timed out) before SIGKILL.
_TERMINATE_GRACE_SECONDS = 10


class InstaproCliOperator(BaseOperator):
    """Run ``<cli_command> <arguments...>`` and fail the task on a non-zero exit code.

    The CLI's stdout and stderr are streamed line by line into the task log.
    """

    template_fields: Sequence[str] = ("arguments", "environment")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        cli_command: Sequence[str],
        arguments: Sequence[str],
        working_directory: str | None = None,
        environment: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not cli_command:
            raise ValueError("cli_command must name the program to run")
        self.cli_command = list(cli_command)
        self.arguments = list(arguments)
        self.working_directory = working_directory
        # Set over the inherited environment, like a pod's env over its envFrom.
        self.environment = dict(environment or {})
        self._process: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> None:
        command = [*self.cli_command, *self.arguments]
        self._check_cli_exists()
        self.log.info("Running: %s (in %s)", shlex.join(command), self.working_directory or os.getcwd())
        if self.environment:
            self.log.info("With: %s", " ".join(f"{name}={value}" for name, value in self.environment.items()))
        try:
            # The CLI reads its INSTAPRO_* settings from the worker's environment, exactly as the
            # pod reads them from the ConfigMap and Secret; only the run's own values are added.
            self._process = subprocess.Popen(
                command,
                cwd=self.working_directory,
                env={**os.environ, **self.environment},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
        except OSError as error:
            raise AirflowException(
                f"cannot start {command[0]!r}: {error}. Set INSTAPRO_CLI or local.cli_command in "
                "pipelines.yaml to the instapro CLI command."
            ) from error

        readers = [
            threading.Thread(target=self._log_stream, args=(self._process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._log_stream, args=(self._process.stderr, "stderr"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            exit_code = self._process.wait()
        finally:
            # Reached with the CLI still running when the task is interrupted (e.g. its
            # execution_timeout fires): do not leave it behind.
            self._stop_process()
            for reader in readers:
                reader.join(timeout=_TERMINATE_GRACE_SECONDS)
        if exit_code != 0:
            raise AirflowException(f"`{shlex.join(command)}` exited with code {exit_code}")
        self.log.info("Finished: %s", shlex.join(command))

    def on_kill(self) -> None:
        self._stop_process()

    def _check_cli_exists(self) -> None:
        # The default command runs the built CLI; say how to build it rather than let node
        # fail with a module-not-found stack trace.
        script = next((part for part in self.cli_command[1:] if part.endswith("main.js")), None)
        if script and not Path(script).is_file():
            raise AirflowException(
                f"the instapro CLI {script} does not exist: run `npm ci && npm run build` in the "
                "repository root, or set INSTAPRO_CLI to the CLI command"
            )

    def _log_stream(self, stream: IO[str] | None, name: str) -> None:
        if stream is None:
            return
        with stream:
            for line in stream:
                self.log.info("[cli %s] %s", name, line.rstrip("\n"))

    def _stop_process(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        self.log.warning("Stopping the CLI (pid %s)", process.pid)
        process.terminate()
        try:
            process.wait(timeout=_TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
