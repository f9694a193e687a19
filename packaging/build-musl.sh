#!/usr/bin/env bash
# Builds the static release binary: target/x86_64-unknown-linux-musl/release/pulse
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add x86_64-unknown-linux-musl
if ! command -v x86_64-linux-musl-gcc >/dev/null && ! command -v musl-gcc >/dev/null; then
  apt-get update && apt-get install -y musl-tools
fi
cargo build --release --locked --target x86_64-unknown-linux-musl
ls -l target/x86_64-unknown-linux-musl/release/pulse
