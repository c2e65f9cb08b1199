//! The local API Gateway (HTTP API): matches a route, runs the JWT authorizer, turns the HTTP
//! request into the API Gateway v2 event lambda_http reads, runs the function, and sends back
//! what it answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body as AxumBody};
use axum::extract::{ConnectInfo, State};
use axum::response::Response as AxumResponse;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bnb_lambda::http::Problem;
use http::{HeaderMap, Method, StatusCode};
use lambda_http::Body;
use serde_json::{json, Map, Value};

use crate::auth::{AuthError, Authority};
use crate::functions::HttpFunction;

/// API Gateway's own payload limit; functions apply their own, smaller ones.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// One route of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// `/rooms/{roomId}`
    pub path: String,
    pub function: String,
    /// Whether the JWT authorizer guards it.
    pub authorized: bool,
}

impl Route {
    pub fn new(method: Method, path: &str, function: &str, authorized: bool) -> Route {
        Route { method, path: path.to_owned(), function: function.to_owned(), authorized }
    }

    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path parameters, when `path` matches this route's template.
    fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        if want.len() != got.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (w, g) in want.iter().zip(&got) {
            if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                if g.is_empty() {
                    return None;
                }
                params.insert(name.to_owned(), percent_decode(g));
            } else if w != g {
                return None;
            }
        }
        Some(params)
    }
}

pub struct Gateway {
    pub routes: Vec<Route>,
    /// By the function's logical id in the template.
    pub functions: BTreeMap<String, HttpFunction>,
    pub authority: Authority,
    /// The web app and the development sign-in.
    pub web: Option<crate::web::WebApp>,
    /// `/metrics` and `/openapi.json`.
    pub ops: crate::ops::OpsPages,
}

impl Gateway {
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self)
    }
}

async fn handle(State(gateway): State<Arc<Gateway>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, request: http::Request<AxumBody>) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let candidates: Vec<(&Route, BTreeMap<String, String>)> = gateway.routes.iter().filter_map(|r| r.matches(&path).map(|p| (r, p))).collect();
    if candidates.is_empty() && (parts.method == Method::GET || parts.method == Method::HEAD) {
        if let Some(page) = gateway.ops.page(&path).await {
            return page;
        }
    }
    if let (Some(web), true) = (&gateway.web, candidates.is_empty()) {
        if path == crate::web::SIGN_IN_PATH && parts.method == Method::POST {
            if !crate::web::WebApp::local_host(parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok())) {
                return problem(Problem::new(
                    StatusCode::FORBIDDEN,
                    "not-local",
                    "Not this machine",
                    "The development sign-in answers only requests to 127.0.0.1 or localhost.",
                ));
            }
            return match to_bytes(body, 64 * 1024).await {
                Ok(bytes) => web.sign_in(&bytes).await,
                Err(_) => problem(Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "The body is too large", "A sign-in is a few bytes.")),
            };
        }
        if parts.method == Method::GET || parts.method == Method::HEAD {
            if let Some(file) = web.file(&path).await {
                return file;
            }
        }
    }
    let Some((route, params)) = candidates.iter().find(|(r, _)| r.method == parts.method).cloned() else {
        return if candidates.is_empty() {
            problem(Problem::new(StatusCode::NOT_FOUND, "no-route", "No such route", format!("bnb has no route for {path}.")))
        } else {
            // RFC 9110: a 405 lists the methods the resource does take.
            let allowed: BTreeSet<&str> = candidates.iter().map(|(r, _)| r.method.as_str()).collect();
            let allow = allowed.into_iter().collect::<Vec<_>>().join(", ");
            let mut response = problem(Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{} is not allowed on {path}; {allow} is.", parts.method),
            ));
            if let Ok(value) = http::HeaderValue::from_str(&allow) {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
            response
        };
    };
    let Some(function) = gateway.functions.get(route.function.as_str()).cloned() else {
        return problem(Problem::internal());
    };
    let claims = if route.authorized {
        let header = parts.headers.get(http::header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        match gateway.authority.verify(header) {
            Ok(claims) => Some(claims),
            Err(e) => return unauthorized(e),
        }
    } else {
        None
    };
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return problem(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "The body is too large",
                format!("API Gateway takes at most {BODY_LIMIT} bytes."),
            ));
        }
    };
    let event = api_gateway_event(route, &params, &parts.method, &parts.uri, &parts.headers, &bytes, claims, peer);
    // Through the same deserializer lambda_http runs on Lambda's payload.
    let Ok(request) = lambda_http::request::from_str(&event.to_string()) else {
        return problem(Problem::internal());
    };
    let response = function(request).await;
    into_axum(response)
}

/// The API Gateway HTTP API (payload format 2.0) event for a request.
#[allow(clippy::too_many_arguments)]
pub fn api_gateway_event(
    route: &Route,
    params: &BTreeMap<String, String>,
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    claims: Option<HashMap<String, String>>,
    peer: SocketAddr,
) -> Value {
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()));
            continue;
        }
        header_map.entry(name.as_str().to_owned()).and_modify(|v| *v = format!("{v},{value}")).or_insert(value);
    }
    let raw_query = uri.query().unwrap_or("").to_owned();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")));
        query.entry(k).and_modify(|old| *old = format!("{old},{v}")).or_insert(v);
    }
    let now = time::OffsetDateTime::now_utc();
    let (body_text, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(STANDARD.encode(body)), true),
    };
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "bnb-local",
        "domainName": headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"),
        "domainPrefix": "bnb-local",
        "http": {
            "method": method.as_str(),
            "path": uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": peer.ip().to_string(),
            "userAgent": headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or(""),
        },
        "requestId": uuid::Uuid::now_v7().to_string(),
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
        "timeEpoch": now.unix_timestamp() * 1000 + now.millisecond() as i64,
    });
    if let (Some(claims), Some(ctx)) = (claims, context.as_object_mut()) {
        ctx.insert("authorizer".into(), json!({ "jwt": { "claims": claims, "scopes": null } }));
    }
    let mut event = Map::new();
    event.insert("version".into(), "2.0".into());
    event.insert("routeKey".into(), route.key().into());
    event.insert("rawPath".into(), uri.path().into());
    event.insert("rawQueryString".into(), raw_query.into());
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(header_map));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !params.is_empty() {
        event.insert("pathParameters".into(), json!(params));
    }
    event.insert("requestContext".into(), context);
    event.insert("body".into(), body_text);
    event.insert("isBase64Encoded".into(), is_base64.into());
    Value::Object(event)
}

fn into_axum(response: lambda_http::Response<Body>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let mut out = AxumResponse::new(AxumBody::from(bytes));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

pub(crate) fn problem(p: Problem) -> AxumResponse {
    into_axum(p.to_response())
}

fn unauthorized(e: AuthError) -> AxumResponse {
    let detail = match e {
        AuthError::Missing => "Send `Authorization: Bearer <token>`; `bnb-local token --sub <you> --groups guest` mints one.".to_owned(),
        AuthError::Expired => "The token has expired; mint a new one.".to_owned(),
        AuthError::Invalid(_) => "The token is not one this API accepts.".to_owned(),
    };
    let mut response = problem(Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail));
    response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    response
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_templates() {
        let r = Route::new(Method::GET, "/rooms/{roomId}", "get-room", false);
        assert_eq!(r.matches("/rooms/abc").map(|p| p["roomId"].clone()), Some("abc".into()));
        assert_eq!(r.matches("/rooms/a%20b").map(|p| p["roomId"].clone()), Some("a b".into()));
        assert!(r.matches("/rooms").is_none());
        assert!(r.matches("/rooms/a/b").is_none());
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%é1"), "%é1");
    }
}
