//! Who is calling: only the claims API Gateway's JWT authorizer put in the request context.
//! A user id in a body, a query or a header is never trusted.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::Problem;
use bnb_domain::{Actor, UserId};

/// The signed-in caller of `request`, or 401 when the authorizer put no subject there.
pub fn caller(request: &Request) -> Result<Actor, Problem> {
    let context = request.request_context_ref().ok_or_else(Problem::unauthorized)?;
    let claims = match context {
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
    .ok_or_else(Problem::unauthorized)?;
    let sub = claims.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty()).ok_or_else(Problem::unauthorized)?;
    Ok(Actor::new(UserId::new(sub), claims.get("cognito:groups").map(|g| parse_groups(g)).unwrap_or_default()))
}

/// API Gateway hands array claims to Lambda as text: `[host guest]`, or a JSON array when the
/// token carried one as a string. Both read the same.
pub fn parse_groups(text: &str) -> Vec<String> {
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|g| g.trim().trim_matches('"'))
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_read_in_every_shape() {
        assert_eq!(parse_groups("[host guest]"), ["host", "guest"]);
        assert_eq!(parse_groups("[\"host\",\"guest\"]"), ["host", "guest"]);
        assert_eq!(parse_groups("host"), ["host"]);
        assert!(parse_groups("[]").is_empty());
    }
}
