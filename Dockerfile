# HeartEye service image: Python slim, no torch (the delineator runs on ONNX Runtime),
# non-root, health-checked. Build: docker build -t hearteye .
# Run:   docker run -p 8000:8000 --env-file .env -v hearteye-data:/data hearteye

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# A normal (non-editable) install: the shipped models are package data inside the venv.
# Only the core dependencies: the [train] extra (torch) never enters the image.
RUN pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    HEARTEYE_ENV=production \
    HEARTEYE_DATA_DIR=/data
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin hearteye \
    && mkdir -p /data && chown hearteye:hearteye /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER hearteye
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/live', timeout=4).status == 200 else 1)"
# Production mode: refuses to start without JWT_SECRET_KEY and SECRET_KEY (see .env.example).
CMD ["hearteye", "serve", "--host", "0.0.0.0", "--port", "8000"]
