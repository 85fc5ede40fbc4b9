#!/usr/bin/env python3
"""Checks the repository's Dockerfile and replays its steps without a Docker engine.

There is no Docker engine on the developer and CI machines, so `docker build` cannot catch a
broken step. This script does the next best thing, driven by the Dockerfile itself rather than a
copy of its steps, so the two cannot drift apart:

  check   structural lint: every COPY source exists in the repository and survives .dockerignore,
          every COPY --from names an earlier stage, base images are pinned by tag, and the final
          stage keeps the contract deploy/ relies on (numeric non-root USER, the CLI ENTRYPOINT,
          CMD ["--help"]).
  replay  builds each stage in a directory of its own: COPY copies from a build context filtered
          by .dockerignore (exactly what Docker would send), RUN runs the command with the host's
          Node.js (any supported line; CI replays with the base image's), WORKDIR and ENV apply as
          in Docker.
          Bind mounts of the context (RUN --mount=type=bind) point at the filtered context.

Only the instructions this repository uses are supported; anything else fails loudly so a new
instruction gets a deliberate replay rule instead of being skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXPECTED_ENTRYPOINT = ["node", "/app/dist/cli/main.js"]
EXPECTED_CMD = ["--help"]
EXPECTED_BASE_IMAGE = "node:24-slim"


class DockerfileError(Exception):
    """A problem with the Dockerfile or .dockerignore that `docker build` would hit or hide."""


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    arguments: str
    line: int


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Parsing


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Joins backslash continuations and drops comments, keeping the first line number."""
    result: list[tuple[int, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker too
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        result.append((start, buffer))
        buffer = ""
    if buffer:
        raise DockerfileError(f"line {start}: instruction ends with a line continuation")
    return result


def parse_instruction(line: int, text: str) -> Instruction:
    keyword, _, rest = text.partition(" ")
    flags: dict[str, str] = {}
    rest = rest.strip()
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags[name] = value
        rest = rest.strip()
    return Instruction(keyword.upper(), flags, rest, line)


def parse_dockerfile(path: Path) -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, text in logical_lines(path.read_text()):
        instruction = parse_instruction(line, text)
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.arguments.partition("=")
            args[name.strip()] = default.strip()
            continue
        if instruction.keyword == "FROM":
            parts = instruction.arguments.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, base))
            continue
        if not stages:
            raise DockerfileError(f"line {line}: {instruction.keyword} before the first FROM")
        stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("no FROM instruction")
    return args, stages


def json_array(instruction: Instruction) -> list[str]:
    try:
        value = json.loads(instruction.arguments)
    except json.JSONDecodeError as error:
        raise DockerfileError(f"line {instruction.line}: {instruction.keyword} must use the JSON (exec) form: {error}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DockerfileError(f"line {instruction.line}: {instruction.keyword} must be a JSON array of strings")
    return value


def copy_operands(instruction: Instruction) -> tuple[list[str], str]:
    arguments = instruction.arguments
    operands = json_array(instruction) if arguments.startswith("[") else shlex.split(arguments)
    if len(operands) < 2:
        raise DockerfileError(f"line {instruction.line}: COPY needs a source and a destination")
    return operands[:-1], operands[-1]


# ---------------------------------------------------------------------------------------------
# .dockerignore, with Docker's rules: patterns are relative to the context root, "**" matches
# any number of directories, "!" re-includes, the last matching pattern wins, and a pattern that
# matches a directory excludes everything below it.


def read_dockerignore(path: Path) -> list[tuple[bool, str]]:
    patterns: list[tuple[bool, str]] = []
    if not path.exists():
        return patterns
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
        patterns.append((negated, pattern))
    return patterns


def pattern_matches(pattern: str, relative: str) -> bool:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        else:
            char = pattern[i]
            regex += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
            i += 1
    return re.fullmatch(regex, relative) is not None


def is_excluded(relative: str, patterns: list[tuple[bool, str]]) -> bool:
    """Whether Docker leaves `relative` (a path inside the context) out of the build context."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in patterns:
        if any(pattern_matches(pattern, prefix) for prefix in prefixes):
            # A re-include only applies to the path itself or what lies below the pattern.
            if negated:
                if pattern_matches(pattern, relative) or any(pattern_matches(pattern, p) for p in prefixes):
                    excluded = False
            else:
                excluded = True
    return excluded


def build_context(repository: Path, destination: Path, patterns: list[tuple[bool, str]]) -> None:
    """Copies what Docker would send as the build context."""
    for root, directories, files in os.walk(repository):
        root_path = Path(root)
        relative_root = root_path.relative_to(repository).as_posix()
        relative_root = "" if relative_root == "." else relative_root
        kept = []
        for directory in directories:
            relative = f"{relative_root}/{directory}".lstrip("/")
            # Descend into excluded directories only if some "!" pattern could re-include below.
            if is_excluded(relative, patterns) and not any(n and p.startswith(relative + "/") for n, p in patterns):
                continue
            kept.append(directory)
        directories[:] = kept
        for name in files:
            relative = f"{relative_root}/{name}".lstrip("/")
            if is_excluded(relative, patterns):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root_path / name, target, follow_symlinks=False)


# ---------------------------------------------------------------------------------------------
# Structural checks


def check(repository: Path, dockerfile: Path) -> list[str]:
    """Returns a list of problems; empty when the Dockerfile is fine."""
    problems: list[str] = []
    _, stages = parse_dockerfile(dockerfile)
    patterns = read_dockerignore(repository / ".dockerignore")
    names = [stage.name for stage in stages]

    for index, stage in enumerate(stages):
        if ":" not in stage.base or stage.base.endswith(":latest"):
            problems.append(f"stage {stage.name}: base image {stage.base!r} is not pinned by tag")
        if stage.base != EXPECTED_BASE_IMAGE:
            problems.append(f"stage {stage.name}: base image is {stage.base!r}, the project uses {EXPECTED_BASE_IMAGE!r}")
        for instruction in stage.instructions:
            if instruction.keyword not in {"WORKDIR", "COPY", "RUN", "ENV", "USER", "ENTRYPOINT", "CMD", "ARG", "LABEL", "EXPOSE"}:
                problems.append(f"line {instruction.line}: {instruction.keyword} has no replay rule in {Path(__file__).name}")
            if instruction.keyword != "COPY":
                continue
            sources, _ = copy_operands(instruction)
            origin = instruction.flags.get("from")
            if origin is not None:
                if origin not in names[:index]:
                    problems.append(f"line {instruction.line}: COPY --from={origin} names no earlier stage")
                continue
            for source in sources:
                relative = os.path.normpath(source).lstrip("/")
                if relative.startswith(".."):
                    problems.append(f"line {instruction.line}: COPY source {source} is outside the build context")
                elif not (repository / relative).exists():
                    problems.append(f"line {instruction.line}: COPY source {source} does not exist in the repository")
                elif is_excluded(relative, patterns):
                    problems.append(f"line {instruction.line}: COPY source {source} is excluded by .dockerignore")
                elif (repository / relative).is_dir() and not any(
                    not is_excluded(f"{relative}/{p.relative_to(repository / relative).as_posix()}", patterns)
                    for p in (repository / relative).rglob("*")
                    if p.is_file()
                ):
                    problems.append(f"line {instruction.line}: COPY source {source} has no file left after .dockerignore")

    final = stages[-1]
    by_keyword: dict[str, Instruction] = {}
    for instruction in final.instructions:
        by_keyword[instruction.keyword] = instruction
    user = by_keyword.get("USER")
    if user is None:
        problems.append("final stage: no USER, the container would run as root")
    else:
        uid = user.arguments.split(":")[0]
        if not uid.isdigit() or uid == "0":
            problems.append(f"final stage: USER {user.arguments} must be a numeric non-root uid (Kubernetes checks runAsNonRoot by number)")
    for keyword, expected in (("ENTRYPOINT", EXPECTED_ENTRYPOINT), ("CMD", EXPECTED_CMD)):
        instruction = by_keyword.get(keyword)
        try:
            actual = json_array(instruction) if instruction else None
        except DockerfileError as error:
            problems.append(f"final stage: {error}")
            continue
        if actual != expected:
            # The exec form keeps the CLI as PID 1, so it receives SIGTERM when Kubernetes stops the pod.
            problems.append(f"final stage: {keyword} must be {json.dumps(expected)}")
    return problems


# ---------------------------------------------------------------------------------------------
# Replay


def stage_path(stage_root: Path, workdir: str, path: str) -> Path:
    absolute = path if path.startswith("/") else os.path.join(workdir, path)
    return stage_root / os.path.normpath(absolute).lstrip("/")


def copy_into(source: Path, destination: Path, destination_is_dir: bool) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True)
        return
    if destination_is_dir or destination.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        destination = destination / source.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)


def replay(repository: Path, dockerfile: Path, work: Path) -> dict[str, Path]:
    """Builds every stage under `work`; returns each stage's working directory."""
    _, stages = parse_dockerfile(dockerfile)
    context = work / "context"
    build_context(repository, context, read_dockerignore(repository / ".dockerignore"))
    roots: dict[str, Path] = {}
    workdirs: dict[str, Path] = {}
    for stage in stages:
        root = work / "stages" / stage.name
        root.mkdir(parents=True)
        roots[stage.name] = root
        workdir = "/"
        environment = dict(os.environ)
        print(f"== stage {stage.name} (FROM {stage.base})", flush=True)
        for instruction in stage.instructions:
            keyword = instruction.keyword
            if keyword == "WORKDIR":
                workdir = os.path.join(workdir, instruction.arguments)
                stage_path(root, "/", workdir).mkdir(parents=True, exist_ok=True)
            elif keyword == "ENV":
                name, _, value = instruction.arguments.partition("=")
                environment[name.strip()] = value.strip().strip('"')
            elif keyword == "COPY":
                sources, destination = copy_operands(instruction)
                origin = instruction.flags.get("from")
                source_root = context if origin is None else roots[origin]
                target = stage_path(root, workdir, destination)
                into_directory = destination.endswith("/") or len(sources) > 1
                for source in sources:
                    source_path = source_root / os.path.normpath(source).lstrip("/")
                    if not source_path.exists():
                        where = "the build context" if origin is None else f"stage {origin}"
                        raise DockerfileError(f"line {instruction.line}: COPY {source}: not found in {where}")
                    copy_into(source_path, target, into_directory)
                print(f"   COPY {' '.join(sources)} -> {destination}", flush=True)
            elif keyword == "RUN":
                command = instruction.arguments
                mount = instruction.flags.get("mount")
                if mount:
                    options = dict(part.partition("=")[::2] for part in mount.split(","))
                    if options.get("type") != "bind" or options.get("source", ".") not in {".", ""}:
                        raise DockerfileError(f"line {instruction.line}: only context bind mounts can be replayed")
                    command = command.replace(options["target"], str(context))
                print(f"   RUN {instruction.arguments}", flush=True)
                completed = subprocess.run(["sh", "-ec", command], cwd=stage_path(root, "/", workdir), env=environment)
                if completed.returncode != 0:
                    raise DockerfileError(f"line {instruction.line}: RUN failed with exit code {completed.returncode}")
            elif keyword in {"USER", "ENTRYPOINT", "CMD", "ARG", "LABEL", "EXPOSE"}:
                continue  # metadata; checked by `check`, nothing to build
            else:
                raise DockerfileError(f"line {instruction.line}: no replay rule for {keyword}")
        workdirs[stage.name] = stage_path(root, "/", workdir)
    return workdirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "replay"])
    parser.add_argument("--repository", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--work", type=Path, help="empty directory for the replayed stages (replay only)")
    options = parser.parse_args()
    repository = options.repository.resolve()
    dockerfile = repository / "Dockerfile"
    try:
        if options.command == "check":
            problems = check(repository, dockerfile)
            for problem in problems:
                print(f"Dockerfile: {problem}", file=sys.stderr)
            if problems:
                return 1
            print("Dockerfile: structure ok")
            return 0
        if options.work is None:
            parser.error("replay needs --work")
        workdirs = replay(repository, dockerfile, options.work.resolve())
        final = list(workdirs)[-1]
        # The calling script reads this line to find the replayed image's /app.
        print(f"FINAL_STAGE_WORKDIR={workdirs[final]}")
        return 0
    except DockerfileError as error:
        print(f"Dockerfile: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
