//! Who is calling: only the claims API Gateway's JWT authorizer put in the request context.
//! A user id in a body, a query or a header is never trusted.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::Problem;
use crate::domain::UserId;

pub const HOST_GROUP: &str = "host";
pub const GUEST_GROUP: &str = "guest";

/// The signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub groups: Vec<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
}

impl Caller {
    /// The caller of `request`, or 401 when the authorizer put no subject there.
    pub fn of(request: &Request) -> Result<Caller, Problem> {
        let context = request.request_context_ref().ok_or_else(Problem::unauthorized)?;
        let claims = match context {
            RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims),
            #[allow(unreachable_patterns)]
            _ => None,
        }
        .ok_or_else(Problem::unauthorized)?;
        let sub = claims.get("sub").map(|s| s.trim()).filter(|s| !s.is_empty()).ok_or_else(Problem::unauthorized)?;
        Ok(Caller {
            user_id: UserId::new(sub),
            groups: claims.get("cognito:groups").map(|g| parse_groups(g)).unwrap_or_default(),
            phone: claims.get("phone_number").cloned().filter(|p| !p.is_empty()),
            locale: claims.get("locale").cloned().filter(|l| !l.is_empty()),
        })
    }

    pub fn is_in(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    pub fn is_host(&self) -> bool {
        self.is_in(HOST_GROUP)
    }

    pub fn is_guest(&self) -> bool {
        self.is_in(GUEST_GROUP)
    }
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
