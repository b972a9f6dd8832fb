# syntax=docker/dockerfile:1
# procpulse-broadcaster — pushes new rows to dashboards over WebSocket and serves the
# dashboard (docs/design.md §4, :4000). The dashboard (web/app, plain ES modules) is embedded in the
# binary at compile time by userland/broadcaster/build.rs: no Node stage, no web files in
# the image.
# A static binary (glibc linked with +crt-static) on distroless/static, run as nonroot.
# Build from the repository root (the context is the whole workspace, web/app included):
#   docker build -f k8s/docker/broadcaster.Dockerfile -t procpulse/broadcaster:0.1.0 .

FROM rust:1-bookworm AS build
# libsqlite3-dev: libsqlite3-sys links the system SQLite (statically, SQLITE3_STATIC);
# cmake: aws-lc-sys (rustls' crypto provider).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-dev cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The workspace and web/app, which build.rs embeds (the build fails without it).
COPY . .
# --target makes RUSTFLAGS apply to the binary only, not to build scripts and proc-macros.
ENV RUSTFLAGS="-C target-feature=+crt-static" \
    SQLITE3_STATIC=1
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p procpulse-broadcaster \
 && cp target/x86_64-unknown-linux-gnu/release/procpulse-broadcaster /procpulse-broadcaster

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /procpulse-broadcaster /usr/local/bin/procpulse-broadcaster
# 65532 is distroless's "nonroot" user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 4000
ENTRYPOINT ["/usr/local/bin/procpulse-broadcaster"]
CMD ["--listen", "0.0.0.0:4000"]
