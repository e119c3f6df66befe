# The trailgraph CLI. Used by docker-compose.yml (`docker compose run --rm trailgraph ...`),
# or alone:  docker build -t trailgraph . && docker run --rm trailgraph --help

FROM python:3.11-slim AS build
WORKDIR /src
# .dockerignore keeps tests, tools, local data and caches out of the context.
COPY . .
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 trailgraph
USER trailgraph
WORKDIR /home/trailgraph
ENTRYPOINT ["trailgraph"]
CMD ["--help"]
