# syntax=docker/dockerfile:1
# procpulse-agent — serves snapshots of the machine it runs on (docs/design.md §4, :5200).
# On a VM the agent runs under systemd (k8s/vm/); in a container it needs the host's
# /proc (hostPID, or the host /proc mounted and --proc-root pointing at it).
# A static binary (glibc linked with +crt-static) on distroless/static, run as nonroot.
# Build from the repository root (the context is the whole workspace):
#   docker build -f k8s/docker/agent.Dockerfile -t procpulse/agent:0.1.0 .

FROM rust:1-bookworm AS build
# libsqlite3-dev: libsqlite3-sys links the system SQLite (statically, SQLITE3_STATIC);
# cmake: aws-lc-sys (rustls' crypto provider).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-dev cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# --target makes RUSTFLAGS apply to the binary only, not to build scripts and proc-macros.
ENV RUSTFLAGS="-C target-feature=+crt-static" \
    SQLITE3_STATIC=1
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p procpulse-agent \
 && cp target/x86_64-unknown-linux-gnu/release/procpulse-agent /procpulse-agent

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /procpulse-agent /usr/local/bin/procpulse-agent
# 65533: the agent's own uid, shared with no other workload, so that reading the node's
# /proc cannot reach another pod's /proc/<pid>/environ (same-uid ptrace-read rule).
# Numeric so runAsNonRoot can verify it.
USER 65533:65533
EXPOSE 5200
ENTRYPOINT ["/usr/local/bin/procpulse-agent"]
CMD ["--listen", "0.0.0.0:5200"]
