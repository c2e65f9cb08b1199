//! The HTTPS client bnb's third-party providers share (the KakaoTalk dealer, the payment
//! provider): hyper 1 and rustls on ring, with Mozilla's roots compiled in, so a cold start reads
//! nothing from disk. It speaks HTTPS only, since every provider's secret key travels in a
//! header; the one exception is a contract server on this machine's loopback, as the tests run.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
pub use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `endpoint`, or why there can be none: `provider` names it in the refusal.
pub fn client(endpoint: &str, provider: &str) -> Result<HttpsClient, String> {
    let lower = endpoint.to_ascii_lowercase();
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| lower.starts_with(p));
    if !lower.starts_with("https://") && !loopback {
        return Err(format!("the {provider} endpoint {endpoint} is not HTTPS: the secret key would cross the network in clear"));
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("TLS: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Why a call got no (whole) answer: it may or may not have been done at the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer(pub String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Sends `request` and waits at most `timeout` for the whole answer.
pub async fn send(client: &HttpsClient, request: Request<Full<Bytes>>, timeout: Duration) -> Result<(StatusCode, Bytes), NoAnswer> {
    let answer = async {
        let response = client.request(request).await.map_err(|e| NoAnswer(format!("no answer: {e}")))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| NoAnswer(format!("the answer broke off: {e}")))?.to_bytes();
        Ok((status, bytes))
    };
    tokio::time::timeout(timeout, answer).await.map_err(|_| NoAnswer(format!("no answer within {timeout:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_a_loopback_contract_server() {
        assert!(client("https://api.tosspayments.com", "payment").is_ok());
        assert!(client("http://127.0.0.1:8080", "payment").is_ok());
        let refused = client("http://api.tosspayments.com", "Toss Payments").err().unwrap();
        assert!(refused.contains("Toss Payments") && refused.contains("not HTTPS"), "{refused}");
    }
}
