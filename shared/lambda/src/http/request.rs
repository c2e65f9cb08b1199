//! Reading what a request carries, with a problem document naming whatever is wrong.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use super::Problem;

/// The largest body an API function reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler knows of its request besides its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    pub correlation_id: String,
    pub request_id: String,
}

impl RequestMeta {
    pub fn of(request: &Request) -> RequestMeta {
        let request_id = request_id(request).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        RequestMeta { correlation_id: correlation_id(request).unwrap_or_else(|| request_id.clone()), request_id }
    }
}

fn request_id(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The caller's `x-correlation-id`, if it is a sane one (printable, at most 128 characters).
pub fn correlation_id(request: &Request) -> Option<String> {
    let value = request.headers().get("x-correlation-id")?.to_str().ok()?.trim();
    let sane = !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic());
    sane.then(|| value.to_owned())
}

/// A path parameter, e.g. `roomId`.
pub fn path_param(request: &Request, name: &str) -> Option<String> {
    request.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned)
}

/// A query-string parameter.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request.query_string_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned)
}

/// The body as `T`: a JSON object, at most [`MAX_BODY_BYTES`], every field known and of the right type.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, Problem> {
    if let Some(ct) = request.headers().get(http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !(ct.starts_with("application/json") || ct.contains("+json")) {
            return Err(Problem::new(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send JSON", "The body must be `application/json`."));
        }
    }
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "The body is too large",
            format!("A body is at most {MAX_BODY_BYTES} bytes; this one is {}.", bytes.len()),
        ));
    }
    // Every body bnb takes is an object (serde would also read a struct from an array).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Problem::bad_request("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (field, message) = describe(&path, &inner);
        Problem::bad_request(&field, message)
    })?;
    de.end().map_err(|_| Problem::bad_request("body", "has trailing characters after the JSON value"))?;
    Ok(value)
}

/// Names the field a serde error is about, and says what is wrong in words a caller can act on.
fn describe(path: &str, e: &serde_json::Error) -> (String, String) {
    let text = e.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
    let quoted = message.split('`').nth(1).map(str::to_owned);
    let join = |parent: &str, child: &str| {
        if parent == "." || parent.is_empty() {
            child.to_owned()
        } else {
            format!("{parent}.{child}")
        }
    };
    if e.is_syntax() || e.is_eof() {
        return ("body".into(), format!("is not valid JSON ({message})"));
    }
    if message.starts_with("unknown field") {
        // The path already ends at the unknown field.
        let field = if path == "." || path.is_empty() { quoted.unwrap_or_default() } else { path.to_owned() };
        return (field, "is not a known field".into());
    }
    if message.starts_with("missing field") {
        let name = quoted.unwrap_or_default();
        return (join(path, &name), "is required".into());
    }
    let field = if path == "." || path.is_empty() { "body".to_owned() } else { path.to_owned() };
    (field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        amount: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        title: String,
        nightly_price: Inner,
    }

    fn problem(body: &str) -> Problem {
        let req = http::Request::builder().body(Body::from(body)).unwrap();
        json_body::<Outer>(&req).unwrap_err()
    }

    fn field(p: &Problem) -> &str {
        &p.errors[0].field
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(&problem("{")), "body");
        assert_eq!(field(&problem(r#"{"nightlyPrice":{"amount":1}}"#)), "title");
        assert_eq!(field(&problem(r#"{"title":1,"nightlyPrice":{"amount":1}}"#)), "title");
        assert_eq!(field(&problem(r#"{"title":"a","nightlyPrice":{"amount":"x"}}"#)), "nightlyPrice.amount");
        assert_eq!(field(&problem(r#"{"title":"a","nightlyPrice":{"amount":1,"x":2}}"#)), "nightlyPrice.x");
        assert_eq!(field(&problem(r#"{"title":"a","nightlyPrice":{"amount":1}} x"#)), "body");
        assert_eq!(field(&problem("")), "body");
        assert_eq!(problem("[1]").status, 400);
    }
}
