# dispatch: one image for web, worker and beat (the command chooses the role).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 dispatch
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY dispatch ./dispatch
COPY workers ./workers
COPY templates ./templates
COPY migrations ./migrations
COPY alembic.ini settings.toml ./
# Editable, as `make install` does: the code runs from /app, beside its templates and migrations.
RUN pip install --no-cache-dir --no-deps -e . && mkdir -p /app/var && chown dispatch /app/var
USER dispatch
EXPOSE 8000
CMD ["dispatch", "web", "--host", "0.0.0.0"]
