# Prometheus from Debian's package for the compose `monitoring` profile; the
# configuration (deploy/docker/prometheus.yml) and the rules
# (deploy/prometheus/enrich-rules.yml) are mounted by compose.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null && \
    rm -rf /usr/share/doc /usr/share/man && \
    mkdir -p /prometheus && chown prometheus:prometheus /prometheus
USER prometheus
VOLUME /prometheus
EXPOSE 9090
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=10 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9090 && printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 && read -r s <&3 && [[ $s == *' 200'* ]]"]
ENTRYPOINT ["prometheus"]
CMD ["--config.file=/etc/enrich/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=0.0.0.0:9090"]
