#!/usr/bin/env bash
# Runs every bnb test, from a fresh clone or the hundredth time in a row:
#   1. installs the test tools (a pinned moto server, cfn-lint) into .tools/, once;
#   2. starts moto on a free loopback port, for the AWS adapter tests (one request at a time:
#      see scripts/moto_server.py);
#   3. lints template.yaml and every stack it nests (stacks/: cfn-lint with the serverless rules,
#      sam validate --lint, each file on its own), the deploy bootstrap template, and the deploy
#      workflow (actionlint);
#   4. runs the whole workspace's tests against moto;
#   5. runs the deploy's end-to-end smoke story (tests/e2e/smoke.py) against bnb-local, then
#      schemathesis with every check of the API's contract (docs/openapi.yaml) against it, as
#      anyone, a guest and a host (tests/api/schemathesis.toml: fixed seed, bounded examples);
#   6. plays the whole story through the web app in headless chromium (tests/browser/story.py,
#      then paying with Toss Payments against its contract server, tests/browser/pay_with_toss.py;
#      Playwright for Python driving Debian's chromium, installed with apt-get if missing);
#   7. stops moto. Any failure exits non-zero; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

install_tools
install_chromium
start_moto
# Throwaway credentials: the SDK wants some, moto accepts any. Never real ones.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL

step "cfn-lint template.yaml stacks/*.yaml (with the serverless rules)"
"$venv/bin/cfn-lint" template.yaml stacks/*.yaml --append-rules cfn_lint_serverless.rules

# Each file on its own: a context's stack deploys by itself, given its parameters.
for template in template.yaml stacks/*.yaml; do
  step "sam validate --lint --template $template"
  SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$venv/bin/sam" validate --lint --template "$template"
done

step "cfn-lint docs/bootstrap/github-oidc.yaml (the deploy's one-time bootstrap)"
"$venv/bin/cfn-lint" docs/bootstrap/github-oidc.yaml

step "actionlint .github/workflows/"
"$venv/bin/actionlint" -no-color .github/workflows/*.yml

step "cargo test --workspace"
cargo test --workspace --locked

# What the stories run, built with --workspace so its features resolve as the tests' did: built
# with -p, each would compile tokio, hyper and every function crate once more (two extra sets,
# minutes on a fresh clone).
cargo build --workspace --bin bnb-local --example toss_contract_server --locked --quiet

step "the deploy's smoke story (tests/e2e/smoke.py), then schemathesis, against bnb-local"
smoke_dir=$(mktemp -d)
smoke_port=$(free_port)
target/debug/bnb-local --data-dir "$smoke_dir" up --port "$smoke_port" --log-format json >"$smoke_dir/bnb-local.log" 2>&1 &
smoke_pid=$!
for _ in $(seq 1 100); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$smoke_port" 2>/dev/null && break
    sleep 0.1
done
smoke_ok=0
"$venv/bin/python" tests/e2e/smoke.py --api "http://127.0.0.1:$smoke_port" --wait 30 \
    --host-token "$(target/debug/bnb-local --data-dir "$smoke_dir" token --sub smoke-host --groups host)" \
    --guest-token "$(target/debug/bnb-local --data-dir "$smoke_dir" token --sub smoke-guest --groups guest)" || smoke_ok=$?
if [[ "$smoke_ok" == 0 ]]; then
    for who in anyone guest host; do
        step "schemathesis, every check, as $who"
        auth=()
        if [[ "$who" != anyone ]]; then
            auth=(-H "Authorization: Bearer $(target/debug/bnb-local --data-dir "$smoke_dir" token --sub "contract-$who" --groups "$who")")
        fi
        "$venv/bin/st" --config-file tests/api/schemathesis.toml run "http://127.0.0.1:$smoke_port/openapi.json" \
            --url "http://127.0.0.1:$smoke_port" --checks all --no-color "${auth[@]}" || { smoke_ok=$?; break; }
    done
fi
kill "$smoke_pid" 2>/dev/null || true
wait "$smoke_pid" 2>/dev/null || true
if [[ "$smoke_ok" != 0 ]]; then
    echo "the smoke story or the contract failed; bnb-local's log:" >&2
    tail -40 "$smoke_dir/bnb-local.log" >&2
    exit 1
fi
rm -rf "$smoke_dir"

step "the web app in headless chromium (tests/browser/story.py)"
BNB_LOCAL_BIN=target/debug/bnb-local CHROMIUM="$chromium_bin" "$venv/bin/python" tests/browser/story.py

step "paying with Toss Payments in the web app (tests/browser/pay_with_toss.py, against Toss's contract server)"
BNB_LOCAL_BIN=target/debug/bnb-local CHROMIUM="$chromium_bin" "$venv/bin/python" tests/browser/pay_with_toss.py
