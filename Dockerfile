# One image per component, from one Dockerfile: the build argument COMPONENT picks the
# binary (a directory under components/).
#
#   docker build --build-arg COMPONENT=orders -t mandate/orders .
#
# docker-compose.yml builds every component this way. The build stage compiles the whole
# workspace's lock file once per cache; BuildKit cache mounts share the cargo registry and the
# target directory between the components' builds, so the second image reuses the first's
# compiled dependencies.
#
# No `# syntax=` line: it makes BuildKit fetch that frontend image from Docker Hub, which fails
# where registries are not reachable, and the built-in frontend already handles the cache
# mounts.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
ARG COMPONENT
RUN test -n "$COMPONENT" \
    || { echo "set --build-arg COMPONENT=<a directory under components/>" >&2; exit 1; }
WORKDIR /src
COPY . .
RUN test -f "components/$COMPONENT/Cargo.toml" \
    || { echo "COMPONENT=$COMPONENT: there is no components/$COMPONENT" >&2; exit 1; }
RUN --mount=type=cache,id=mandate-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=mandate-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p "$COMPONENT" --bin "$COMPONENT" \
    && install -D -m 0755 "target/release/$COMPONENT" /out/component

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: for tls:// NATS URLs. A system user without a shell or home of its own.
# Before `ARG COMPONENT`: a RUN after it is cached per component, and this layer is the same
# for all of them (built once, not seven times).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /data \
        --shell /usr/sbin/nologin mandate \
    && mkdir /data \
    && chown mandate:mandate /data
ARG COMPONENT
COPY --from=build /out/component /usr/local/bin/component
# The component keeps its private store in /data/<component> (a volume per component).
ENV MANDATE_DATA_DIR=/data \
    MANDATE_COMPONENT=${COMPONENT}
LABEL org.opencontainers.image.title="mandate-${COMPONENT}" \
      org.opencontainers.image.description="the ${COMPONENT} component of a mandate system"
USER mandate:mandate
WORKDIR /data
VOLUME ["/data"]
# SIGTERM drains in-flight work, flushes the store and closes (the kit's graceful stop).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/component"]
