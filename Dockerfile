# Airflow image with the project's locked requirements and the parkdw package.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt constraints.txt /opt/parkdw/
RUN pip install --no-cache-dir -r /opt/parkdw/requirements.txt -c /opt/parkdw/constraints.txt
# The package is installed in place so its settings find dags/, dbt_project/ and expectations/
# beside it (settings.REPO_ROOT), as in a checkout.
COPY --chown=airflow:root pyproject.toml /opt/parkdw/
COPY --chown=airflow:root include /opt/parkdw/include
COPY --chown=airflow:root dags /opt/parkdw/dags
COPY --chown=airflow:root dbt_project /opt/parkdw/dbt_project
COPY --chown=airflow:root expectations /opt/parkdw/expectations
RUN pip install --no-cache-dir --no-deps -e /opt/parkdw \
 && python -c "from parkdw import transform; transform.ensure_manifest()" \
 && mkdir -p /opt/airflow/auth /opt/airflow/landing /opt/airflow/parkdw /opt/airflow/cosmos_cache
