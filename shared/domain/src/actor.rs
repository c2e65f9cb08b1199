//! Who is acting: a signed-in user and the groups the identity provider put them in. The edge
//! builds it from the authorizer's claims only; the use cases check ownership against it.

use crate::UserId;

pub const HOST_GROUP: &str = "host";
pub const GUEST_GROUP: &str = "guest";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub groups: Vec<String>,
}

impl Actor {
    pub fn new(user_id: UserId, groups: Vec<String>) -> Actor {
        Actor { user_id, groups }
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
