# The Airflow image for docker-compose.yaml: the official Airflow 3.3.2 image plus this project's exact pins
# and the community_dw package (DAGs, dbt project and suites are mounted, so edits show without a rebuild).
FROM apache/airflow:3.3.2-python3.11

# A compiler and OpenSSL's headers build community_dw._hmac_sha256, the batch HMAC (pyproject.toml).
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt pyproject.toml README.md /opt/community-dw/
COPY --chown=airflow:root include /opt/community-dw/include
RUN pip install --no-cache-dir -r /opt/community-dw/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/community-dw \
 && CDW_DATA_DOCS_ASSETS_DIR=/home/airflow/data-docs-assets cdw data-docs-assets
# GX Data Docs render offline from these (fetched from the npm registry, integrity-checked).
ENV CDW_DATA_DOCS_ASSETS_DIR=/home/airflow/data-docs-assets
