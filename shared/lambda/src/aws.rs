//! The AWS SDK configuration: loaded once per process, shared by every client built from it.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots every AWS service endpoint's certificate chains to (Amazon Trust Services).
const AMAZON_TRUST_ROOTS: &str = include_str!("amazon-trust-roots.pem");

/// The AWS SDK configuration for this process: region and credentials from the usual chain;
/// `AWS_ENDPOINT_URL` (honoured by the SDK) points every client at moto or another endpoint.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    // A custom HTTPS endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) may be signed by
    // anyone; plain HTTP (moto) needs no roots at all.
    let custom_tls_endpoint = std::env::vars().any(|(k, v)| k.starts_with("AWS_ENDPOINT_URL") && v.trim().to_ascii_lowercase().starts_with("https://"));
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client(!custom_tls_endpoint)).load().await
}

/// The HTTPS client every SDK client of the process shares. Against AWS itself it trusts only the
/// Amazon Trust Services roots: reading the system's ~150 root certificates from disk is most of
/// a function's init (docs/benchmarks.md, cold starts), and no AWS endpoint needs them. A custom
/// HTTPS endpoint may be signed by anyone, so it gets the system's roots.
pub fn https_client(amazon_roots_only: bool) -> SharedHttpClient {
    let trust = match amazon_roots_only {
        true => TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_ROOTS.as_bytes()),
        false => TrustStore::default(),
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Only a malformed bundle gets here (a test parses it): fall back to the system's roots.
        Err(_) => builder.build_https(),
    }
}

/// The AWS SDK configuration for an explicit endpoint (moto, in tests and `bnb-local --endpoint`):
/// a fixed region and, unless the environment has some, throwaway credentials.
pub async fn aws_sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())));
    loader = loader.http_client(https_client(!endpoint.starts_with("https://")));
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "bnb-local"));
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    #[test]
    fn the_bundled_amazon_roots_are_five_certificates() {
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(super::AMAZON_TRUST_ROOTS.as_bytes()).collect::<Result<_, _>>().expect("every block parses");
        assert_eq!(certs.len(), 5, "Amazon Root CA 1-4 and Starfield Services Root CA G2");
        // Each is a self-signed root: its DER holds the subject twice (as issuer and subject).
        for (cert, name) in certs.iter().zip([
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ]) {
            let der = cert.as_ref();
            let occurrences = der.windows(name.len()).filter(|w| *w == name.as_bytes()).count();
            assert_eq!(occurrences, 2, "{name} is a self-signed root");
        }
    }

    #[test]
    fn a_client_builds_with_either_trust_store() {
        let _amazon = super::https_client(true);
        let _system = super::https_client(false);
    }
}
