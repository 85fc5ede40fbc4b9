"""The Dockerfile checks of deploy/docker/dockerfile_replay.py catch what they claim to catch.

verify-image-steps.sh runs the checker and the replay on the real Dockerfile; these tests feed it
broken variants in a scratch repository, so a check that silently stopped working fails here.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from conftest import DEPLOY, REPOSITORY

spec = importlib.util.spec_from_file_location("dockerfile_replay", DEPLOY / "docker" / "dockerfile_replay.py")
dockerfile_replay = importlib.util.module_from_spec(spec)
sys.modules["dockerfile_replay"] = dockerfile_replay
spec.loader.exec_module(dockerfile_replay)


@pytest.fixture
def scratch_repository(tmp_path: Path) -> Path:
    """A copy of what the Dockerfile reads: enough for the structural checks."""
    for name in ("Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"):
        shutil.copy2(REPOSITORY / name, tmp_path / name)
    for directory in ("src", "sql", "data/sample"):
        shutil.copytree(REPOSITORY / directory, tmp_path / directory)
    (tmp_path / "data" / "private-export.csv").write_text("not for the image\n")
    return tmp_path


def edit(repository: Path, old: str, new: str, name: str = "Dockerfile") -> None:
    path = repository / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}; update this test with the Dockerfile"
    path.write_text(text.replace(old, new))


def problems(repository: Path) -> str:
    return "\n".join(dockerfile_replay.check(repository, repository / "Dockerfile"))


def test_the_repository_dockerfile_passes():
    assert problems(REPOSITORY) == ""


def test_missing_copy_source_is_reported(scratch_repository):
    shutil.rmtree(scratch_repository / "sql")
    assert "COPY source sql does not exist" in problems(scratch_repository)


def test_copy_source_excluded_by_dockerignore_is_reported(scratch_repository):
    with (scratch_repository / ".dockerignore").open("a") as ignore:
        ignore.write("sql\n")
    assert "COPY source sql is excluded by .dockerignore" in problems(scratch_repository)


def test_root_user_is_reported(scratch_repository):
    edit(scratch_repository, "USER 1000:1000", "USER root")
    assert "numeric non-root uid" in problems(scratch_repository)


def test_changed_entrypoint_is_reported(scratch_repository):
    edit(scratch_repository, 'ENTRYPOINT ["node", "/app/dist/cli/main.js"]', "ENTRYPOINT node /app/dist/cli/main.js")
    assert "ENTRYPOINT" in problems(scratch_repository)


def test_unpinned_base_image_is_reported(scratch_repository):
    edit(scratch_repository, "ARG NODE_IMAGE=node:24-slim", "ARG NODE_IMAGE=node")
    assert "not pinned by tag" in problems(scratch_repository)


def test_copy_from_unknown_stage_is_reported(scratch_repository):
    edit(scratch_repository, "COPY --from=build /app/dist ./dist", "COPY --from=builder /app/dist ./dist")
    assert "COPY --from=builder names no earlier stage" in problems(scratch_repository)


def test_instruction_without_replay_rule_is_reported(scratch_repository):
    edit(scratch_repository, "USER 1000:1000", "USER 1000:1000\nHEALTHCHECK NONE")
    assert "HEALTHCHECK has no replay rule" in problems(scratch_repository)


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("node_modules/zod/index.js", True),
        ("src/node_modules/x.js", True),
        (".git/HEAD", True),
        (".env", True),
        ("dist/cli/main.js", True),
        ("data/private-export.csv", True),
        ("data/sample/event_log.csv", False),
        ("src/cli/main.ts", False),
        ("src/bench/main.ts", True),
        ("dist-bench/bench/main.js", True),
        ("sql/migrations/0001_raw_layer.sql", False),
        ("deploy/helm/instapro/values.yaml", True),
        ("airflow/dags/instapro_dag_factory.py", True),
    ],
)
def test_dockerignore_keeps_local_state_and_other_components_out(path, excluded):
    patterns = dockerfile_replay.read_dockerignore(REPOSITORY / ".dockerignore")
    assert dockerfile_replay.is_excluded(path, patterns) is excluded


def test_build_context_is_what_docker_would_send(scratch_repository, tmp_path):
    context = tmp_path / "context"
    dockerfile_replay.build_context(scratch_repository, context, dockerfile_replay.read_dockerignore(scratch_repository / ".dockerignore"))
    assert (context / "data" / "sample" / "event_log.csv").is_file()
    assert not (context / "data" / "private-export.csv").exists()
    assert (context / "src" / "cli" / "main.ts").is_file()


def test_airflow_image_copies_only_what_its_ignore_file_lets_through():
    """deploy/airflow/Dockerfile builds from the repository root with its own ignore file."""
    patterns = dockerfile_replay.read_dockerignore(DEPLOY / "airflow" / "Dockerfile.dockerignore")
    _, stages = dockerfile_replay.parse_dockerfile(DEPLOY / "airflow" / "Dockerfile")
    copies = [i for stage in stages for i in stage.instructions if i.keyword == "COPY"]
    assert copies
    for instruction in copies:
        sources, _ = dockerfile_replay.copy_operands(instruction)
        for source in sources:
            assert (REPOSITORY / source).is_dir(), source
            assert not dockerfile_replay.is_excluded(source, patterns), source
    assert dockerfile_replay.is_excluded("airflow/tests/test_factory.py", patterns)
    assert dockerfile_replay.is_excluded("airflow/.venv/bin/python", patterns)
