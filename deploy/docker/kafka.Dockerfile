# A single-node KRaft Kafka broker for the compose project: Debian's Java 17
# and the same Maven Central jars as the local stack (deploy/kafka/fetch.sh;
# deploy/docker/build.sh copies them into the context as kafka-libs/).
# Listeners: PLAINTEXT on 9092 advertised as $KAFKA_ADVERTISED_HOST:9092 for
# the compose network, EXTERNAL on 19092 advertised as
# 127.0.0.1:$KAFKA_EXTERNAL_PORT for the host (publish 19092 there).
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    mkdir -p /usr/share/man/man1 && \
    apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && \
    rm -rf /usr/share/doc /usr/share/man && \
    useradd --system --uid 10002 --user-group --home-dir /var/lib/kafka \
      --shell /usr/sbin/nologin kafka && \
    mkdir -p /var/lib/kafka && chown kafka:kafka /var/lib/kafka
COPY kafka-libs /opt/kafka/libs
COPY deploy/kafka/log4j.properties /opt/kafka/log4j.properties
COPY deploy/docker/kafka/entrypoint.sh /usr/local/bin/enrich-kafka
USER kafka
VOLUME /var/lib/kafka
EXPOSE 9092 19092
# Up when the broker answers on its listener (bash's /dev/tcp: no client
# tools needed) and has logged its start.
HEALTHCHECK --interval=3s --timeout=3s --start-period=90s --retries=20 \
  CMD ["bash", "-c", "grep -q 'Kafka Server started' /var/lib/kafka/server.log && exec 3<>/dev/tcp/127.0.0.1/9092"]
CMD ["enrich-kafka"]
