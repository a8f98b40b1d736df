# commit-train serve (and the CLI) in a container: python slim, a non-root user, the package
# installed with the exact dependency versions the tests ran with (actions/constraints.txt).
#   docker build -t commit-train .
#   docker run --env-file serve.env -p 3000:3000 commit-train serve --host 0.0.0.0
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin commit-train

WORKDIR /src
COPY pyproject.toml README.md ./
COPY actions/constraints.txt ./actions/constraints.txt
COPY src ./src
RUN python -m pip install -c actions/constraints.txt . \
    && python -m compileall -q /usr/local/lib \
    && rm -rf /src

WORKDIR /home/commit-train
USER 10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2) or sys.exit(1)"]
ENTRYPOINT ["commit-train"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
