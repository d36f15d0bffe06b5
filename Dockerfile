# syntax=docker/dockerfile:1
# The controller image. The same image runs `llmkube fetch` in the download Jobs the Model reconciler creates.
#
# BASE_IMAGE is any Debian bookworm image with Python 3.11 (`python3`, its venv module) and ca-certificates. The
# default is the public one; where no registry can be reached, `python -m hack.images build` passes a base it
# built locally with mmdebstrap (docs/images.md).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# constraints.txt holds the versions the tests ran against; without it pip would resolve whatever is newest.
COPY pyproject.toml README.md constraints.txt ./
COPY api ./api
COPY controller ./controller
COPY llmkube ./llmkube
# The root file system is read-only when the image runs, so Python cannot cache bytecode then: without these
# .pyc files every controller start and every download Job would compile thousands of modules again (seconds
# each time). Hash-based .pyc files do not record file times, so the layer is the same on every build.
RUN python3 -m venv /opt/llmkube \
    && /opt/llmkube/bin/pip install --no-compile -c constraints.txt . \
    && /opt/llmkube/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/llmkube/lib

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="llmkube" \
      org.opencontainers.image.description="LLMKube controller and model fetcher" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/llmkube /opt/llmkube
ENV PATH=/opt/llmkube/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/tmp/hf
# A numeric non-root user, so `runAsNonRoot: true` can be verified by the kubelet without /etc/passwd.
USER 65532:65532
ENTRYPOINT ["llmkube-controller"]
