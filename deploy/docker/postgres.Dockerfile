# PostgreSQL 15 from Debian's packages for the compose project: wal_level =
# logical, the contract's source tables (REPLICA IDENTITY FULL) and its
# reference view in database `enrich`, an empty database `enrich_test` for
# the integration suite. Context: deploy/docker/build.sh's (contract/ holds
# the contract). A development and test image: trust authentication on the
# compose network (publish its port on loopback only), like the local stack.
FROM debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    mkdir -p /etc/postgresql-common && \
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf && \
    apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold \
      postgresql-15 postgresql-client-15 >/dev/null && \
    rm -rf /usr/share/doc /usr/share/man && \
    mkdir -p /var/lib/postgresql/data /var/run/postgresql && \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY contract/source_schema.sql contract/enriched_reference.sql /enrich/contract/
COPY deploy/docker/postgres/entrypoint.sh /usr/local/bin/enrich-postgres
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=15 \
  CMD ["pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "enrich"]
CMD ["enrich-postgres"]
