//! The web app on `bnb-local`: the files of `web/` at `/` (as CloudFront serves them from S3 on
//! AWS), the app's settings at `/config.json`, and the development sign-in, which exists only
//! here: it stands in for Cognito's hosted UI by minting a local token for a chosen user.

use std::path::{Component, Path, PathBuf};

use axum::body::Body as AxumBody;
use axum::response::Response as AxumResponse;
use bnb_contexts::identity::{enrol_guest, Group, UserDirectory};
use bnb_embedded::EmbeddedDirectory;
use bnb_lambda::http::Problem;
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::Authority;

/// Where the development sign-in listens.
pub const SIGN_IN_PATH: &str = "/_bnb/sign-in";

/// How long a development token lives.
const TOKEN_SECONDS: i64 = 12 * 3600;

pub struct WebApp {
    /// The folder whose files are served (`web/`).
    pub dir: PathBuf,
    pub directory: EmbeddedDirectory,
    pub authority: Authority,
    /// The functions' clock: the app shows the date they decide by (`up --days-ahead`).
    pub clock: bnb_contexts::clock::SharedClock,
    /// How the booking screen pays: the template's `PaymentProvider`, and Toss's client key.
    pub payment: PaymentConfig,
}

/// The app's payment settings (`config.json`'s `payment`): `sandbox` shows the test cards;
/// `toss` shows Toss Payments' widget, with this client key (not a secret: it is in the page).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentConfig {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

/// `POST /_bnb/sign-in`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignIn {
    pub user: String,
    /// Also put the user in `host` (a development shortcut; in the app anyone becomes a host
    /// with `POST /me/host`).
    #[serde(default)]
    pub host: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub token: String,
    pub user: String,
    pub groups: Vec<String>,
    pub expires_in: i64,
}

/// What the app reads at start: how to sign in and where the API is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppConfig {
    /// `local`: the development sign-in; `cognito`: the hosted UI (written by the deploy).
    sign_in: &'static str,
    /// The API's base URL; empty means this origin.
    api_base: &'static str,
    /// Today in Seoul by the functions' clock (the app would take the browser's otherwise).
    today: String,
    payment: PaymentConfig,
}

impl WebApp {
    /// A file of the app, `/config.json`, or `None` (a 404 from the gateway).
    pub async fn file(&self, path: &str) -> Option<AxumResponse> {
        if path == "/config.json" {
            let today = bnb_contexts::domain::stay::format_date(self.clock.today());
            let body = serde_json::to_vec(&AppConfig { sign_in: "local", api_base: "", today, payment: self.payment.clone() }).ok()?;
            return Some(respond(StatusCode::OK, "application/json", body));
        }
        let relative = if path == "/" { "index.html" } else { path.trim_start_matches('/') };
        let relative = Path::new(relative);
        // Only plain, visible names below the folder: no `..`, no absolute paths, no dotfiles,
        // and (links resolved) still inside it.
        let plain = |c: Component| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'));
        if !relative.components().all(plain) {
            return None;
        }
        let root = tokio::fs::canonicalize(&self.dir).await.ok()?;
        let file = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
        if !file.starts_with(&root) {
            return None;
        }
        let bytes = tokio::fs::read(&file).await.ok()?;
        Some(respond(StatusCode::OK, content_type(relative), bytes))
    }

    /// Whether a request for the development sign-in names this machine as its host: a page of
    /// another site that rebinds its name to 127.0.0.1 cannot mint tokens through it.
    pub fn local_host(host: Option<&str>) -> bool {
        let Some(host) = host else { return false };
        let name = host.rsplit_once(':').map_or(host, |(name, _port)| name);
        matches!(name, "127.0.0.1" | "localhost" | "[::1]")
    }

    /// The development sign-in: the first sign-in of a user is their sign-up, which puts them in
    /// `guest` as the pool's post-confirmation trigger does; the token carries the user's groups.
    pub async fn sign_in(&self, body: &[u8]) -> AxumResponse {
        let request: SignIn = match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("The body is not a sign-in: {e}. Send {{\"user\": \"<name>\", \"host\": false}}.")),
        };
        let user = request.user.trim();
        if user.is_empty() || user.len() > 64 || !user.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')) {
            return problem(StatusCode::BAD_REQUEST, "`user` must be 1 to 64 letters, digits, `-`, `_`, `.` or `@`.");
        }
        let joined = async {
            enrol_guest(&self.directory, user).await?;
            if request.host {
                self.directory.add_to_group(user, Group::Host).await?;
            }
            self.directory.groups(user).await
        };
        let groups = match joined.await {
            Ok(groups) => groups,
            Err(e) => return problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
        match self.authority.mint(user, &groups, None, None, TOKEN_SECONDS) {
            Ok(token) => match serde_json::to_vec(&SignedIn { token, user: user.to_owned(), groups, expires_in: TOKEN_SECONDS }) {
                Ok(body) => respond(StatusCode::OK, "application/json", body),
                Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            },
            Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> AxumResponse {
    let mut response = AxumResponse::new(AxumBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The app changes as you edit it; a reload shows the edit.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn problem(status: StatusCode, detail: &str) -> AxumResponse {
    let (slug, title) = match status {
        StatusCode::BAD_REQUEST => ("invalid-sign-in", "The sign-in is not valid"),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "The local user pool is unavailable"),
        _ => ("internal", "Internal error"),
    };
    crate::gateway::problem(Problem::new(status, slug, title, detail.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_may_sign_in() {
        assert!(WebApp::local_host(Some("127.0.0.1:3000")) && WebApp::local_host(Some("localhost:3000")) && WebApp::local_host(Some("[::1]:3000")));
        assert!(!WebApp::local_host(Some("evil.example:3000")) && !WebApp::local_host(None));
    }

    #[test]
    fn types_follow_extensions() {
        assert_eq!(content_type(Path::new("index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("app/main.js")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }
}
