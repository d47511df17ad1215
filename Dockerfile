# ocpi-hub container image. Build: docker build -t ocpi-hub .
# Run: docker run -e OCPI_HUB_PUBLIC_URL=https://hub.example.com -v ocpi-hub-data:/var/lib/ocpi-hub \
#        -p 8080:8080 ocpi-hub
# (it listens on 0.0.0.0: without a public URL it refuses to start rather than advertise 0.0.0.0)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OCPI_HUB_HOST=0.0.0.0 \
    OCPI_HUB_PORT=8080 \
    OCPI_HUB_DATA_DIR=/var/lib/ocpi-hub

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY routing ./routing
COPY partners ./partners
RUN pip install --no-compile . \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin ocpihub \
    && mkdir -p /var/lib/ocpi-hub && chown 10001 /var/lib/ocpi-hub && chmod 0700 /var/lib/ocpi-hub

# The data dir holds the embedded PostgreSQL (every registration, token and agreement), the secrets key
# that seals partners' tokens and the generated admin token, unless OCPI_HUB_DATABASE_URL,
# OCPI_HUB_SECRETS_KEY and OCPI_HUB_ADMIN_TOKEN are set. Mount a named volume or a host directory here
# (docker run -v ocpi-hub-data:/var/lib/ocpi-hub ...): without one, each new container gets an empty
# anonymous volume and starts from nothing.
VOLUME ["/var/lib/ocpi-hub"]

USER 10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["ocpi-hub"]
CMD ["serve"]
