# CDS Hooks 2.0 service: MSC liver screening.
# Multi-stage: build wheels in a full image, run from a slim one as a non-root user.
#   docker build -t msc-liver-screening .
#   docker run -p 8080:8080 -e CDS_TRUST_FILE=/config/trust.yaml \
#     -e CDS_ALLOWED_FHIR_SERVERS=https://fhir.example.org/r4 -v $PWD/config:/config:ro \
#     -v cds-data:/data msc-liver-screening
# CI builds and runs it with scripts/check_docker.py (where Docker Hub is out of reach, on a
# stand-in base image passed as PYTHON_IMAGE); scripts/check_image.py repeats the steps
# without Docker.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
COPY cards ./cards
COPY fhir_fixtures ./fhir_fixtures
# the service wheel and every dependency wheel, so the runtime stage installs offline
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CDS_HOST=0.0.0.0 \
    CDS_PORT=8080 \
    CDS_WORKERS=2 \
    CDS_SQLITE_PATH=/data/cds-service.sqlite3
RUN groupadd --system --gid 10001 cds \
 && useradd --system --uid 10001 --gid cds --home-dir /home/cds --create-home --shell /usr/sbin/nologin cds \
 && mkdir -p /data && chown cds:cds /data
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links /wheels cds-service && rm -rf /wheels
USER cds
WORKDIR /home/cds
VOLUME ["/data"]
EXPOSE 8080
# liveness: /healthz answers without authentication; python is in the image, curl is not
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CDS_PORT','8080'), timeout=4).status == 200 else 1)"
ENTRYPOINT ["cds-service"]
CMD ["serve"]
