#!/usr/bin/env bash
# Cold starts of every function next to a hello-world lambda_http binary (docs/benchmarks.md):
#   1. builds the release binaries (the profile `cargo lambda build --release` uses);
#   2. starts moto (the test tools, installed as the test command installs them);
#   3. runs tests/benches/cold_start.rs: each binary started 20 times under a minimal Lambda
#      Runtime API on 127.0.0.1, init / first / warm invocation timed.
# Arguments go to the harness: `scripts/cold-start.sh --starts 30 get-room place-reservation`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

install_tools
step "building release binaries"
packages=(-p hello-lambda)
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done
cargo build --release --locked "${packages[@]}"
start_moto
step "cold starts"
cargo run --release --locked -p bnb-tests --example cold_start -- --bin-dir target/release --moto "$BNB_TEST_MOTO_URL" "$@"
