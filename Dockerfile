# rat in one image: `rat watch` (the engine), `rat serve` (API, status page, browser workbench) and
# JupyterLab with the guided notebook. The workspace is a volume at /workspace.
#
#   docker build -t rat .                                   # from PyPI
#   docker build --build-arg BASE=my-python-base -t rat .   # another Python 3.11+ base image
#
# Offline (no registry, no index): put every wheel in .wheels/ first (`pip wheel '.[notebook]'
# -w .wheels`) and the image installs from them alone.
ARG BASE=python:3.12-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/rat/bin:$PATH RAT_WORKSPACE=/workspace
COPY . /src
RUN set -eux; \
    python3 -m venv /opt/rat; \
    if ls /src/.wheels/*.whl >/dev/null 2>&1; then \
        /opt/rat/bin/pip install --no-cache-dir --no-index --find-links /src/.wheels "rat-tui[notebook]"; \
    else \
        /opt/rat/bin/pip install --no-cache-dir "/src[notebook]"; \
    fi; \
    mkdir -p /opt/rat/examples; cp /src/examples/guided_tour.ipynb /src/examples/streamlit_app.py /opt/rat/examples/; \
    cp /src/docker/rat-start /opt/rat/bin/rat-start; chmod 0755 /opt/rat/bin/rat-start; \
    rm -rf /src; \
    # The lake needs no DuckDB extension beyond those built into its wheel (parquet, json): check
    # they load with no network, so an offline homelab works.
    /opt/rat/bin/python -c "import duckdb; duckdb.sql(\"select 1 from duckdb_extensions() where extension_name = 'parquet' and loaded\").fetchall()[0]"; \
    (getent group rat || groupadd --system --gid 1000 rat); \
    (getent passwd rat || useradd --system --uid 1000 --gid 1000 --home-dir /home/rat --create-home rat); \
    mkdir -p /workspace; chown rat:rat /workspace

USER rat
WORKDIR /workspace
VOLUME /workspace
EXPOSE 8642 8888
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["rat-start", "health"]
ENTRYPOINT ["rat-start"]
CMD ["serve"]
