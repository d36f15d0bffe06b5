# syntax=docker/dockerfile:1
# The controller image. The same image runs `llmkube fetch` in the download Jobs the Model reconciler creates,
# and `llmkube-gateway` in the gateway Deployment (config/gateway).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# constraints.txt holds the versions the tests ran against; without it pip would resolve whatever is newest.
COPY pyproject.toml README.md constraints.txt ./
COPY api ./api
COPY controller ./controller
COPY llmkube ./llmkube
RUN python -m venv /opt/llmkube \
    && /opt/llmkube/bin/pip install --no-compile -c constraints.txt . \
    && find /opt/llmkube -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="llmkube" \
      org.opencontainers.image.description="LLMKube controller, gateway and model fetcher" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/llmkube /opt/llmkube
ENV PATH=/opt/llmkube/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/tmp/hf
# A numeric non-root user, so `runAsNonRoot: true` can be verified by the kubelet without /etc/passwd.
USER 65532:65532
ENTRYPOINT ["llmkube-controller"]
