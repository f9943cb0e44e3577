# Airflow image with the project's locked requirements and the parkdw package.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt constraints.txt pyproject.toml /opt/parkdw/
COPY --chown=airflow:root include /opt/parkdw/include
RUN pip install --no-cache-dir -r /opt/parkdw/requirements.txt -c /opt/parkdw/constraints.txt \
 && pip install --no-cache-dir --no-deps /opt/parkdw
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root dbt_project /opt/parkdw/dbt_project
COPY --chown=airflow:root expectations /opt/parkdw/expectations
