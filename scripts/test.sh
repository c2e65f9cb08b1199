#!/usr/bin/env bash
# Runs every bnb test, from a fresh clone or the hundredth time in a row:
#   1. installs the test tools (a pinned moto server, cfn-lint) into .tools/, once;
#   2. starts moto on a free loopback port, for the AWS adapter tests (one request at a time:
#      see scripts/moto_server.py);
#   3. lints template.yaml (cfn-lint with the serverless rules, sam validate --lint);
#   4. runs the whole workspace's tests against moto;
#   5. plays the whole story through the web app in headless chromium (tests/browser/story.py,
#      Playwright for Python driving Debian's chromium, installed with apt-get if missing);
#   6. stops moto. Any failure exits non-zero; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

install_tools
install_chromium
start_moto
# Throwaway credentials: the SDK wants some, moto accepts any. Never real ones.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL

step "cfn-lint template.yaml (with the serverless rules)"
"$venv/bin/cfn-lint" template.yaml --append-rules cfn_lint_serverless.rules

step "sam validate --lint"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$venv/bin/sam" validate --lint --template template.yaml

step "cargo test --workspace"
cargo test --workspace --locked

step "the web app in headless chromium (tests/browser/story.py)"
cargo build -p bnb-local --locked --quiet
BNB_LOCAL_BIN=target/debug/bnb-local CHROMIUM="$chromium_bin" "$venv/bin/python" tests/browser/story.py
