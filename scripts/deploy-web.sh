#!/usr/bin/env bash
# Publishes the web app to a deployed stack: writes web/'s config.json from the stack's outputs
# (the API's URL, the Cognito hosted UI and the app's client), uploads web/ to the stack's
# bucket, and invalidates CloudFront so the new files are served at once.
#
#   scripts/deploy-web.sh [stack-name]        # default: the stack samconfig.toml deploys (bnb-dev)
#
# Needs the AWS CLI and credentials for the account; run it after `sam deploy`.
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-bnb-dev}"
output() {
    aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
api=$(output ApiUrl)
web_url=$(output WebUrl)
bucket=$(output WebBucketName)
distribution=$(output WebDistributionId)
domain=$(output HostedUiDomain)
client=$(output UserPoolClientId)
# How the booking screen pays: the sandbox's test cards, or Toss Payments' widget with its client key.
provider=$(output PaymentProvider)
toss_client_key=$(output TossClientKey)
[[ -z "$provider" || "$provider" == "None" ]] && provider=sandbox
[[ "$toss_client_key" == "None" ]] && toss_client_key=""
for value in "$api" "$web_url" "$bucket" "$distribution" "$domain" "$client"; do
    if [[ -z "$value" || "$value" == "None" ]]; then
        echo "stack $stack lacks an output the web app needs; deploy it first (sam deploy)" >&2
        exit 1
    fi
done
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R web/. "$staging/"
# What web/auth.js reads at start: sign in through the hosted UI (code + PKCE), call the API.
cat > "$staging/config.json" <<JSON
{"signIn": "cognito", "apiBase": "$api", "cognitoDomain": "https://$domain", "clientId": "$client", "redirectUri": "$web_url", "payment": {"provider": "$provider", "clientKey": "$toss_client_key"}}
JSON
aws s3 sync "$staging/" "s3://$bucket/" --delete --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "the web app is at $web_url"
