# 狼煙 Noroshi: one image for `noroshi worker`, `noroshi board` and `noroshi topics`.
#   docker build -t noroshi:local .
#   docker run --rm noroshi:local --help
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A fixed non-root uid, so that files on bind mounts (deploy/secrets,
# deploy/profiles) can be made readable to it: uid/gid 10001.
RUN groupadd --system --gid 10001 noroshi \
 && useradd --system --uid 10001 --gid noroshi --no-create-home \
        --home-dir /var/lib/noroshi --shell /usr/sbin/nologin noroshi \
 && install -d -o noroshi -g noroshi -m 0750 /var/lib/noroshi \
 && install -d -m 0755 /etc/noroshi/profiles

# Only what the distribution needs; tests, var/ and secrets stay out
# (see also .dockerignore).
WORKDIR /tmp/noroshi-src
COPY pyproject.toml README.md ./
COPY vocabulary/ vocabulary/
COPY noroshi/ noroshi/
COPY streams/ streams/
COPY sources/ sources/
COPY tools/ tools/
COPY playbooks/ playbooks/
COPY responders/ responders/
COPY dashboards/ dashboards/
# With the `avatars` extra, `noroshi sources` hashes the avatars account discovery finds.
RUN pip install --no-cache-dir '.[avatars]' \
 && cd / && rm -rf /tmp/noroshi-src \
 && noroshi --help > /dev/null

USER noroshi
WORKDIR /var/lib/noroshi
# The worker's table files; mount a volume here (docker-compose.yml does).
ENV NOROSHI_DATA_DIR=/var/lib/noroshi
# The status board (NOROSHI_BOARD_PORT).
EXPOSE 8080

ENTRYPOINT ["noroshi"]
CMD ["worker"]
