# The project's four images, one target each: model-server, operator, mlflow, postgresql.
#   podman build --build-arg BASE_IMAGE=localhost/mlrollout-base:<tag> --target model-server .
# hack/images.sh builds them (the base is made locally: no registry is reachable here) and tags
# each by its own inputs (hack/image-tag.py: the stages below that a target uses, and the files
# they copy). The base needs python3 (>= 3.11), python3-venv, ca-certificates and useradd.
# Layer order is for fast rebuilds: third-party dependencies depend only on pyproject.toml, the
# project's code comes last, as a wheel of only the packages the image runs.
ARG BASE_IMAGE=localhost/mlrollout-base:bookworm

FROM ${BASE_IMAGE} AS base
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/mlrollout mlrollout && \
    python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/mlrollout

# One requirement list per optional extra (<extra>.txt: the project's dependencies plus the
# extra's) and build-system.txt, from pyproject.toml alone: code changes reinstall nothing.
FROM base AS requirements
WORKDIR /requirements
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
      open("build-system.txt", "w").write("\n".join(p["build-system"]["requires"])); \
      [open(f"{extra}.txt", "w").write("\n".join(p["project"]["dependencies"] + reqs)) \
       for extra, reqs in p["project"]["optional-dependencies"].items()]'

# Builds a wheel of the project holding only the packages a target copies in (hatchling skips
# the absent ones). README.md is left empty: the docs are no input of any image.
FROM base AS wheel-tools
COPY --from=requirements /requirements/build-system.txt /tmp/
# PIP_CERT: a CA bundle for networks that inspect TLS (images.sh mounts the host's bundle).
ARG PIP_CERT=""
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi; \
    pip install --no-cache-dir --disable-pip-version-check -r /tmp/build-system.txt
WORKDIR /src
COPY pyproject.toml ./
RUN touch README.md

FROM wheel-tools AS model-server-wheel
COPY serving/model_server serving/model_server
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation -w /wheels .

FROM wheel-tools AS operator-wheel
COPY operator/promotion_operator operator/promotion_operator
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation -w /wheels .

# Only the CLI: `mlrollout gates check` (operator code, httpx) is for laptops and CI, not this
# image, and the train extra lacks httpx anyway; nothing else imports promotion_operator.
FROM wheel-tools AS mlflow-wheel
COPY mlrollout mlrollout
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation -w /wheels .

FROM base AS model-server
COPY --from=requirements /requirements/serving.txt /tmp/
ARG PIP_CERT=""
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi; \
    pip install --no-cache-dir --disable-pip-version-check -r /tmp/serving.txt
COPY --from=model-server-wheel /wheels /tmp/wheels
# The wheel's `mlrollout` command would need the mlrollout package, which this image leaves out.
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps /tmp/wheels/*.whl && \
    rm -r /tmp/wheels /opt/venv/bin/mlrollout
# Read-only root filesystem friendly: downloads go to TMPDIR (mount an emptyDir there).
ENV TMPDIR=/tmp \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    MODEL_SERVER_HOST=0.0.0.0 \
    MODEL_SERVER_PORT=8080
USER 10001:10001
EXPOSE 8080
# MODEL_SERVER_MODEL_URI (and MLFLOW_TRACKING_URI for models:/ URIs) come from the environment.
CMD ["python", "-m", "model_server"]

FROM base AS operator
COPY --from=requirements /requirements/operator.txt /tmp/
ARG PIP_CERT=""
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi; \
    pip install --no-cache-dir --disable-pip-version-check -r /tmp/operator.txt
COPY --from=operator-wheel /wheels /tmp/wheels
# The wheel's `mlrollout` command would need the mlrollout package, which this image leaves out.
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps /tmp/wheels/*.whl && \
    rm -r /tmp/wheels /opt/venv/bin/mlrollout
USER 10001:10001
# 8081: kopf liveness (/healthz); 9090: Prometheus metrics.
EXPOSE 8081 9090
# Namespaces to watch: MLROLLOUT_OPERATOR_NAMESPACES (empty = cluster-wide).
CMD ["python", "-m", "promotion_operator"]

# MLflow tracking server + registry, and the training demo (`mlrollout train`), for the cluster.
# The Helm chart runs it with one worker and MLflow's job consumers off (see charts/mlrollout).
FROM base AS mlflow
COPY --from=requirements /requirements/train.txt /tmp/
ARG PIP_CERT=""
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi; \
    pip install --no-cache-dir --disable-pip-version-check -r /tmp/train.txt
COPY --from=mlflow-wheel /wheels /tmp/wheels
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps /tmp/wheels/*.whl && \
    rm -r /tmp/wheels
USER 10001:10001
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1"]

# PostgreSQL for MLflow (the chart's postgresql option): Debian's server, run by its own
# entrypoint as the unprivileged user, data on the pod's volume. No cluster is made at install.
FROM base AS postgresql
RUN mkdir -p /etc/postgresql-common/createcluster.d && \
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/no-main.conf && \
    apt-get update -q && \
    apt-get install -y -q --no-install-recommends postgresql >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY images/postgresql/entrypoint.sh /usr/local/bin/postgresql-entrypoint
ENV PGDATA=/var/lib/postgresql/data/pgdata \
    TMPDIR=/tmp
USER 10001:10001
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgresql-entrypoint"]
