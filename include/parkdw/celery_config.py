"""Celery configuration for the park's Airflow workers: Airflow's defaults plus a warm start.

Airflow 3 runs each task in a process forked from the Celery pool process, and Airflow preloads a
few of its own modules there for that reason. Every transform task also imports dbt and Cosmos
(seconds of CPU per task, ~40 tasks a day), so the worker preloads them once: forked task
processes inherit the imported modules.  Set with
AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=parkdw.celery_config.CELERY_CONFIG.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)


@import_modules.connect
def preload_transform_modules(*args, **kwargs) -> None:
    import cosmos.operators.local  # noqa: F401
    import dbt.adapters.postgres  # noqa: F401
    import dbt.cli.main  # noqa: F401

    import parkdw.transform  # noqa: F401
