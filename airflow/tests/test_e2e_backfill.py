"""End to end: a backfill of the daily DAG over a landing zone of day partitions in S3.

The real instapro CLI runs in local mode against a real PostgreSQL server and a real
S3-compatible store (SeaweedFS, started by scripts/ci/start-seaweedfs.sh). A generated log is cut
into one partition per day (`events/date=YYYY-MM-DD/`) the way files land in production: some
events a few days late, some delivered twice (in a later partition, or twice in one), and one
day's file uploaded again under another name, gzipped. The daily DAG then runs once per day, in
order, as a backfill with `max_active_runs=1` runs them. After every run the stored snapshot must
equal the reference implementation (test/reference/availability-snapshot.mjs) over the events delivered so
far, on every day; after the last run, over the whole log.

Needs INSTAPRO_TEST_DATABASE_URL, the built CLI and INSTAPRO_TEST_S3_ENDPOINT with its keys;
without them it is skipped, or fails when INSTAPRO_AIRFLOW_REQUIRE_E2E=1 (CI).
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import subprocess
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from availability_reference import reference_snapshot
from conftest import CLI_SCRIPT, output_tail, run_airflow, unavailable

pytestmark = pytest.mark.e2e

FIRST_DAY = date(2020, 3, 1)
DAYS = 6
EVENTS = 3000
LATE_SHARE = 0.10  # delivered 1 to 3 days after their date (never after the last day)
DUPLICATE_SHARE = 0.04  # delivered a second time, in the same or a later partition


@dataclass(frozen=True)
class S3Store:
    endpoint: str
    access_key: str
    secret_key: str

    def request(self, method: str, path: str, upload: Path | None = None) -> None:
        """One signed request; curl signs it (SigV4) the way any S3 client would."""
        command = [
            "curl", "-sS", "--fail-with-body", "-X", method,
            "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{self.access_key}:{self.secret_key}",
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ]
        if upload is not None:
            command += ["--upload-file", str(upload)]
        # The path goes out percent-encoded (`=` as %3D), as S3 signs it.
        completed = subprocess.run([*command, f"{self.endpoint}/{quote(path, safe='/')}"], capture_output=True, text=True, timeout=60)
        assert completed.returncode == 0, f"{method} {path}: {completed.stdout}{completed.stderr}"


@pytest.fixture(scope="session")
def s3_store() -> S3Store:
    endpoint = os.environ.get("INSTAPRO_TEST_S3_ENDPOINT", "").strip()
    access_key = os.environ.get("INSTAPRO_TEST_S3_ACCESS_KEY", "")
    secret_key = os.environ.get("INSTAPRO_TEST_S3_SECRET_KEY", "")
    if not (endpoint and access_key and secret_key):
        unavailable("INSTAPRO_TEST_S3_ENDPOINT and its keys are not set: start scripts/ci/start-seaweedfs.sh")
    if shutil.which("curl") is None:
        unavailable("curl is not on PATH: the test uploads the partitions with it")
    return S3Store(endpoint.rstrip("/"), access_key, secret_key)


@dataclass
class LandingZone:
    bucket: str
    log: Path  # the whole generated log: what the partitions hold, each event once
    delivered_by_day: dict[date, set[int]]  # event ids in each day's partition


def generate_log(path: Path, work_dir: Path) -> None:
    completed = subprocess.run(
        ["node", str(CLI_SCRIPT), "generate", "--events", str(EVENTS), "--seed", "11",
         "--start", FIRST_DAY.isoformat(), "--days", str(DAYS), "--out", str(path)],
        # generate needs no database; the data directory only keeps it away from the repository's.
        env={**os.environ, "INSTAPRO_DATA_DIR": str(work_dir / "db")},
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def cut_into_partitions(log: Path, seed: int = 5) -> dict[date, list[str]]:
    """Each line goes to the partition of its delivery day: its own date, or a few days later."""
    chooser = random.Random(seed)
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    partitions: dict[date, list[str]] = defaultdict(list)
    lines = log.read_text().splitlines(keepends=True)[1:]
    for line in lines:
        day = date.fromisoformat(line.split(";")[3][:10])
        delivery = day
        if chooser.random() < LATE_SHARE:
            delivery = min(last_day, day + timedelta(days=chooser.randint(1, 3)))
        partitions[delivery].append(line)
        if chooser.random() < DUPLICATE_SHARE:
            again = delivery + timedelta(days=chooser.randint(0, (last_day - delivery).days))
            partitions[again].append(line)
    for day_lines in partitions.values():
        chooser.shuffle(day_lines)  # files are not in event order
    return partitions


@pytest.fixture()
def landing_zone(tmp_path: Path, built_cli: Path, s3_store: S3Store):
    log = tmp_path / "event_log.csv"
    generate_log(log, tmp_path)
    header = log.read_text().splitlines(keepends=True)[0]
    partitions = cut_into_partitions(log)
    assert sorted(partitions) == [FIRST_DAY + timedelta(days=i) for i in range(DAYS)], "a day without a partition"

    bucket = f"instapro-backfill-{uuid.uuid4().hex[:10]}"
    s3_store.request("PUT", bucket)
    keys: list[str] = []
    delivered_by_day: dict[date, set[int]] = {}
    resent_day = FIRST_DAY + timedelta(days=DAYS // 2)
    for day, day_lines in sorted(partitions.items()):
        body = tmp_path / f"{day}.csv"
        body.write_text(header + "".join(day_lines))
        uploads = [(f"events/date={day}/part-00000.csv", body)]
        if day == resent_day:
            # The producer delivers the same file again under another name, compressed.
            resent = tmp_path / f"{day}.resent.csv.gz"
            resent.write_bytes(gzip.compress(body.read_bytes()))
            uploads.append((f"events/date={day}/part-00001-resent.csv.gz", resent))
        for key, file in uploads:
            s3_store.request("PUT", f"{bucket}/{key}", upload=file)
            keys.append(key)
        delivered_by_day[day] = {int(line.split(";", 1)[0]) for line in day_lines}
    yield LandingZone(bucket, log, delivered_by_day)
    for key in keys:
        s3_store.request("DELETE", f"{bucket}/{key}")
    s3_store.request("DELETE", bucket)


def test_daily_backfill_over_s3_partitions_keeps_every_day_of_the_snapshot_exact(
    # Prerequisites first: a skipped test should not wait for `airflow db migrate`.
    database_url, built_cli, s3_store, landing_zone, local_run_environment, isolated_schemas
):
    import psycopg
    from psycopg import sql

    environment = local_run_environment(
        {
            "INSTAPRO_DATABASE_URL": database_url,
            # The deployment's landing zone, as the chart sets it (an Airflow Variable).
            "AIRFLOW_VAR_INSTAPRO_INPUT_TEMPLATE": f"s3://{landing_zone.bucket}/events/date={{{{ ds }}}}/",
            "AWS_ENDPOINT_URL_S3": s3_store.endpoint,
            "AWS_ACCESS_KEY_ID": s3_store.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_store.secret_key,
            "AWS_REGION": "us-east-1",
            "INSTAPRO_S3_FORCE_PATH_STYLE": "true",
            **isolated_schemas,
        },
    )
    schema = isolated_schemas["INSTAPRO_SCHEMA"]
    raw_schema = isolated_schemas["INSTAPRO_RAW_SCHEMA"]
    header, *lines = landing_zone.log.read_text().splitlines(keepends=True)
    line_of_event = {int(line.split(";", 1)[0]): line for line in lines}
    delivered: set[int] = set()
    delivered_log = landing_zone.log.with_name("delivered_so_far.csv")

    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        # A daily run's logical date ends its interval: day D is the run of D + 1.
        completed = run_airflow(["dags", "test", "instapro_daily", (day + timedelta(days=1)).isoformat()], environment)
        assert completed.returncode == 0, f"the run for {day} failed:\n{output_tail(completed, 150)}"
        assert f"date={day}/" in completed.stdout + completed.stderr, "the run did not read its own partition"
        delivered |= landing_zone.delivered_by_day[day]

        with psycopg.connect(database_url) as connection:
            stored = connection.execute(
                sql.SQL(
                    "SELECT date, active_professionals_count, able_at_any_moment_count "
                    "FROM {}.availability_snapshot ORDER BY date"
                ).format(sql.Identifier(schema))
            ).fetchall()
            loaded_events = connection.execute(
                sql.SQL("SELECT count(*), count(DISTINCT event_id) FROM {}.event").format(sql.Identifier(raw_schema))
            ).fetchone()
        # Every day so far, late events included, as the reference computes it from what was delivered.
        delivered_log.write_text(header + "".join(line_of_event[event_id] for event_id in sorted(delivered)))
        expected = reference_snapshot(delivered_log, FIRST_DAY, day)
        assert stored == [(r.date, r.active_professionals_count, r.able_at_any_moment_count) for r in expected], (
            f"snapshot after the run for {day}"
        )
        # Duplicates, within a partition or across partitions, are loaded once.
        assert loaded_events == (len(delivered), len(delivered))

    # The whole log has been delivered: the final snapshot is the reference of every event.
    assert delivered == set(line_of_event)
    expected = reference_snapshot(landing_zone.log, FIRST_DAY, FIRST_DAY + timedelta(days=DAYS - 1))
    assert max(row.active_professionals_count for row in expected) > 0
    assert stored == [(r.date, r.active_professionals_count, r.able_at_any_moment_count) for r in expected]
