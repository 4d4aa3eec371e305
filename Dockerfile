# The execbatch image: the worker, the paper venue and the CLI (one image, several roles).
#   docker build -t execbatch .
#   docker run --rm execbatch worker           (configured through the environment)
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 execbatch
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
# The product is one package, execbatch (the repository's backend/, with workflows/ and
# activities/ linked inside it); benchmarks and tests are not part of the image.
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py ./
COPY examples ./examples
RUN ln -sfn backend execbatch && pip install .

# /data holds the paper venue's SQLite file (a volume in docker-compose.yml).
RUN mkdir /data && chown execbatch /data
USER execbatch
ENTRYPOINT ["execbatch"]
CMD ["worker"]
