"""Writes, as JSON, the pod the KubernetesPodOperator would create for one task of an instapro DAG.

Run with the Airflow venv's interpreter (airflow/.venv/bin/python), which has Airflow, the
cncf.kubernetes provider and the DAG factory; deploy/tests/test_control_plane.py sends the pod
to a real kube-apiserver:

    airflow/.venv/bin/python deploy/envtest/pipeline_pod.py instapro_daily ingest 2020-03-10 pod.json

(to a file, because Airflow logs to standard output)
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

REPOSITORY = Path(__file__).resolve().parents[2]


def main(dag_id: str, task_id: str, day: str, out: str) -> None:
    # An isolated Airflow home: parsing the DAGs must not touch a developer's Airflow.
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="instapro-envtest-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    sys.path.insert(0, str(REPOSITORY / "airflow"))

    import pendulum
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.execution_time import macros
    from kubernetes.client import ApiClient

    from instapro_airflow.factory import build_dags

    task = build_dags()[dag_id].get_task(task_id)
    start = pendulum.parse(day, tz="UTC")
    end = start.add(days=1)
    task.render_template_fields(
        {"data_interval_start": start, "data_interval_end": end, "dag_run": SimpleNamespace(run_after=end), "macros": macros}
    )
    # The operator asks its hook whether it runs in a cluster, only to label the pod.
    KubernetesPodOperator.hook = SimpleNamespace(is_in_cluster=True)  # type: ignore[assignment]
    pod = task.build_pod_request_obj()
    Path(out).write_text(json.dumps(ApiClient().sanitize_for_serialization(pod)))


if __name__ == "__main__":
    main(*sys.argv[1:5])
