# rat in one image: `rat watch` (the engine), `rat serve` (API, status page, browser workbench) and
# JupyterLab with the guided notebook. The workspace is a volume at /workspace; `rat` is the
# entrypoint, so the container's command is a rat command:
#
#   docker build -t rat .                                   # from PyPI
#   docker build --build-arg BASE=my-python-base -t rat .   # another Python 3.11+ base image
#   docker run --rm -v "$PWD/ws:/workspace" rat demo -w .   # a fresh folder gets the demo, built
#   docker run -d --network host -v "$PWD/ws:/workspace" rat watch
#   docker run -d --network host -v "$PWD/ws:/workspace" rat serve    # 127.0.0.1:8642
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
# rat serve answers /api/health (RAT_PORT: the port it was given, when not 8642).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=4)" \
        "http://127.0.0.1:${RAT_PORT:-8642}/api/health"
ENTRYPOINT ["rat"]
CMD ["serve"]
