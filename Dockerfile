# procopt: `docker build -t procopt .` (or `make docker`), then e.g.
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=postgresql+psycopg://... procopt
# The container migrates the database, then serves on 0.0.0.0:8000. One-off commands replace the
# command:  docker run --rm -it -e ... procopt procopt create-user --email ... --role admin --password ...
#
# Layout of the image (PROJECT_ROOT in app/core/config.py is the parent of the `app` package, so the
# templates, static files, migrations and alembic.ini sit beside it):
#   /opt/venv    the virtual environment: the dependencies, and procopt installed *editable* (--no-deps -e),
#                so `import app` resolves to /app/app and the `procopt` command exists
#   /app         app/  migrations/  templates/  static/  alembic.ini  (read-only, root-owned)
#   /app/data    the only writable directory (owned by the procopt user): the default SQLite database
#                lives here; mount a volume on it, or use PostgreSQL through DATABASE_URL.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The same path as at run time: the editable install records /app as the location of the source.
WORKDIR /app

# Dependencies first, exactly as locked (versions and hashes: requirements.lock, `make lock` refreshes it),
# so that code changes do not reinstall them.
COPY pyproject.toml README.md requirements.lock ./
RUN pip install --upgrade pip \
    && pip install --require-hashes -r requirements.lock

# The package itself, editable and without dependencies: only metadata, the `procopt` script and the
# path hook land in the venv; the code stays in /app (copied again, alone, into the runtime stage).
COPY app/ ./app/
RUN pip install --no-deps -e . \
    && procopt --help > /dev/null

# ---------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PROCOPT_ENV=production \
    PORT=8000

# WeasyPrint (the PDF controlled copy of an SOP, app/sops/exports.py) uses the system's Pango, as its
# documentation lists for Debian with wheels: libpango-1.0-0 and libpangoft2-1.0-0 (they bring HarfBuzz and
# fontconfig); libharfbuzz-subset0 makes embedding the fonts fast; fonts-noto-cjk draws the Chinese text.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
                                                  fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 procopt \
    && useradd --system --uid 10001 --gid procopt --home-dir /app --no-create-home \
               --shell /usr/sbin/nologin procopt

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
COPY alembic.ini ./
COPY migrations/ ./migrations/
COPY templates/ ./templates/
COPY static/ ./static/
COPY app/ ./app/
# Byte-compile the code as root (the procopt user cannot write under /app), then make the data folder.
RUN python -m compileall -q app migrations \
    && mkdir -p /app/data \
    && chown procopt:procopt /app/data

USER procopt:procopt
VOLUME ["/app/data"]
EXPOSE 8000

# No curl in the slim image: Python asks /healthz (urlopen raises, so exits non-zero, on anything but 2xx).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1

# Migrate, then replace the shell with the server (PID 1 gets SIGTERM from `docker stop`).
# Settings come from the environment: SECRET_KEY (required in production), DATABASE_URL, WORKERS, ...
CMD ["/bin/sh", "-c", "procopt migrate && exec procopt serve --host 0.0.0.0"]
