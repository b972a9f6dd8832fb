# syntax=docker/dockerfile:1
# procpulse-ingest — validates snapshots and stores them (docs/design.md §4, :8000).
# A static binary (glibc linked with +crt-static) on distroless/static, run as nonroot.
# Build from the repository root (the context is the whole workspace):
#   docker build -f k8s/docker/ingest.Dockerfile -t procpulse/ingest:0.1.0 .

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
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p procpulse-ingest \
 && cp target/x86_64-unknown-linux-gnu/release/procpulse-ingest /procpulse-ingest

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /procpulse-ingest /usr/local/bin/procpulse-ingest
# 65532 is distroless's "nonroot" user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/procpulse-ingest"]
CMD ["--listen", "0.0.0.0:8000"]
