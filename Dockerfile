# ChamaHub image: one image for web (gunicorn), Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files (admin, Swagger UI / ReDoc sidecar bundles) collected at build time.
RUN DJANGO_SETTINGS_MODULE=chamahub.settings.base python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 --home-dir /app chamahub \
    && mkdir -p /app/media \
    && chown -R chamahub /app/media

USER chamahub
EXPOSE 8000

ENV DJANGO_SETTINGS_MODULE=chamahub.settings.production
CMD ["gunicorn", "chamahub.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", \
     "--max-requests", "1000", "--max-requests-jitter", "100", "--timeout", "30", "--access-logfile", "-"]
