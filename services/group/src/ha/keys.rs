//! Where the controllers keep things in etcd, under one prefix (default `/infrakit/`):
//!
//! - `<prefix>controllers/<name>`: a live controller (bound to its lease).
//! - `<prefix>groups/<id>`: a group's record (committed spec and state), JSON.
//! - `<prefix>owners/<id>`: the name of the controller that owns the group, bound to that
//!   controller's lease; its create revision is the group's epoch.
//! - `<prefix>status/<id>`: what DescribeGroup shows, as the owner last published it (for the
//!   other controllers to answer from).
//! - `<prefix>orders/<id>/<order>`: a change sent to a controller that does not own the group,
//!   for the owner to carry out and answer.

/// The key layout under a prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

/// What a key under the prefix is.
#[derive(Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// A live controller, by name.
    Controller(&'a str),
    /// A group's record, by ID.
    Group(&'a str),
    /// A group's owner key, by group ID.
    Owner(&'a str),
    /// A group's published status, by group ID.
    Status(&'a str),
    /// An order for a group: (group ID, order ID).
    Order(&'a str, &'a str),
}

// === impl Keys ===

impl Keys {
    /// The layout under `prefix` (a trailing `/` is added when missing).
    pub fn new(prefix: &str) -> Self {
        let mut prefix = prefix.to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { prefix }
    }

    /// Everything of these controllers.
    pub fn root(&self) -> &str {
        &self.prefix
    }

    /// A controller's registration.
    pub fn controller(&self, name: &str) -> String {
        format!("{}controllers/{name}", self.prefix)
    }

    /// A group's record.
    pub fn group(&self, id: &str) -> String {
        format!("{}groups/{id}", self.prefix)
    }

    /// A group's owner.
    pub fn owner(&self, id: &str) -> String {
        format!("{}owners/{id}", self.prefix)
    }

    /// A group's published status.
    pub fn status(&self, id: &str) -> String {
        format!("{}status/{id}", self.prefix)
    }

    /// An order for a group.
    pub fn order(&self, id: &str, order: &str) -> String {
        format!("{}orders/{id}/{order}", self.prefix)
    }

    /// What `key` is, if it is one of ours.
    pub fn parse<'a>(&self, key: &'a [u8]) -> Option<Key<'a>> {
        let rest = std::str::from_utf8(key).ok()?.strip_prefix(&self.prefix)?;
        let (kind, name) = rest.split_once('/')?;
        if name.is_empty() {
            return None;
        }
        match kind {
            "controllers" => Some(Key::Controller(name)),
            "groups" => Some(Key::Group(name)),
            "owners" => Some(Key::Owner(name)),
            "status" => Some(Key::Status(name)),
            "orders" => {
                let (group, order) = name.split_once('/')?;
                (!group.is_empty() && !order.is_empty()).then_some(Key::Order(group, order))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_strangers_are_ignored() {
        let k = Keys::new("/infrakit");
        assert_eq!(k.group("web"), "/infrakit/groups/web");
        assert_eq!(k.parse(k.group("web").as_bytes()), Some(Key::Group("web")));
        assert_eq!(k.parse(k.owner("web").as_bytes()), Some(Key::Owner("web")));
        assert_eq!(
            k.parse(k.controller("c1").as_bytes()),
            Some(Key::Controller("c1"))
        );
        assert_eq!(
            k.parse(k.status("web").as_bytes()),
            Some(Key::Status("web"))
        );
        assert_eq!(
            k.parse(k.order("web", "c1-ab").as_bytes()),
            Some(Key::Order("web", "c1-ab"))
        );
        assert_eq!(k.parse(b"/infrakit/orders/web"), None);
        assert_eq!(k.parse(b"/other/groups/web"), None);
        assert_eq!(k.parse(b"/infrakit/groups/"), None);
        assert_eq!(k.parse(b"/infrakit/misc/x"), None);
    }
}
