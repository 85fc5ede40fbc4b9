"""Airflow orchestration of the instapro pipeline: YAML-driven DAG factory and its operators."""
