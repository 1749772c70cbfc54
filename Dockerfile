# syntax=docker/dockerfile:1
# One image for web (daphne workers), Celery worker and beat: pick the process with the command.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.12-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=dropmate.settings
RUN groupadd --system dropmate && useradd --system --gid dropmate --home /app dropmate
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=dropmate:dropmate . /app
# collectstatic needs settings that load; the real secret arrives at run time.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --no-input \
    && mkdir -p /app/media && chown -R dropmate:dropmate /app/media /app/staticfiles
USER dropmate
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
# Worker: celery -A dropmate worker -l INFO   Beat: celery -A dropmate beat -l INFO
# Several daphne workers on one port (dropmate/serve.py; WEB_CONCURRENCY sets how many).
CMD ["python", "-m", "dropmate.serve", "-b", "0.0.0.0", "-p", "8000"]
