"""The instapro pipeline DAGs (instapro_daily, instapro_weekly, instapro_monthly, ...).

This file is deliberately thin: the DAGs are generated from airflow/config/pipelines.yaml
by instapro_airflow.factory. To add or change a pipeline, edit the YAML.
"""

import sys
from pathlib import Path

# instapro_airflow lives next to this dags folder rather than inside it (so the DAG
# processor does not scan it); make it importable when it is not installed.
_AIRFLOW_PROJECT_DIR = str(Path(__file__).resolve().parents[1])
if _AIRFLOW_PROJECT_DIR not in sys.path:
    sys.path.append(_AIRFLOW_PROJECT_DIR)

from instapro_airflow.factory import build_dags  # noqa: E402

# Airflow discovers DAGs among this module's globals.
globals().update(build_dags())
