//! Who may do what: access rules declared in a definition (and in an
//! integration), versioned with it. A definition that declares none is
//! closed: admins only. Admins may do everything.

use serde::{Deserialize, Serialize};

/// Users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principals {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Principals {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    pub fn admit(&self, who: &Identity) -> bool {
        self.users.contains(&who.user) || self.groups.iter().any(|g| who.groups.contains(g))
    }
}

/// Someone asking: a token's subject and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    pub admin: bool,
}

/// What may be done with a definition's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Start tasks.
    Submit,
    /// See tasks (input, output, history), and the definition's schemas and form.
    Read,
    /// Work manual tasks beyond one's own assignment: claim, complete, unclaim.
    Work,
    /// Register new versions, see the implementation, reassign, cancel, retry.
    Manage,
}

/// A definition's rules. Each permission implies seeing the tasks (`read`);
/// `manage` implies every other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRules {
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub submit: Principals,
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub read: Principals,
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub work: Principals,
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub manage: Principals,
}

impl AccessRules {
    pub fn is_empty(&self) -> bool {
        self.submit.is_empty()
            && self.read.is_empty()
            && self.work.is_empty()
            && self.manage.is_empty()
    }

    pub fn allows(&self, who: &Identity, permission: Permission) -> bool {
        if who.admin || self.manage.admit(who) {
            return true;
        }
        match permission {
            Permission::Submit => self.submit.admit(who),
            Permission::Work => self.work.admit(who),
            Permission::Read => self.read.admit(who) || self.work.admit(who),
            Permission::Manage => false,
        }
    }
}

/// An integration's rules: who may name it in a definition (`use`: a
/// definition calling it acts with the integration's stored credentials),
/// see it, and register new versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationAccess {
    #[serde(default, rename = "use", skip_serializing_if = "Principals::is_empty")]
    pub use_: Principals,
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub read: Principals,
    #[serde(default, skip_serializing_if = "Principals::is_empty")]
    pub manage: Principals,
}

impl IntegrationAccess {
    pub fn is_empty(&self) -> bool {
        self.use_.is_empty() && self.read.is_empty() && self.manage.is_empty()
    }

    pub fn may_use(&self, who: &Identity) -> bool {
        who.admin || self.manage.admit(who) || self.use_.admit(who)
    }

    pub fn may_read(&self, who: &Identity) -> bool {
        self.may_use(who) || self.read.admit(who)
    }

    pub fn may_manage(&self, who: &Identity) -> bool {
        who.admin || self.manage.admit(who)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity {
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            admin: false,
        }
    }

    #[test]
    fn no_rules_means_admins_only() {
        let rules = AccessRules::default();
        for p in [
            Permission::Submit,
            Permission::Read,
            Permission::Work,
            Permission::Manage,
        ] {
            assert!(!rules.allows(&who("u", &["g"]), p));
            assert!(rules.allows(
                &Identity {
                    admin: true,
                    ..who("root", &[])
                },
                p
            ));
        }
    }

    #[test]
    fn each_permission_admits_its_principals_and_implies_reading() {
        let rules = AccessRules {
            submit: Principals {
                users: vec!["svc".into()],
                groups: vec![],
            },
            read: Principals {
                users: vec![],
                groups: vec!["audit".into()],
            },
            work: Principals {
                users: vec![],
                groups: vec!["approvers".into()],
            },
            manage: Principals {
                users: vec![],
                groups: vec!["platform".into()],
            },
        };
        assert!(rules.allows(&who("svc", &[]), Permission::Submit));
        assert!(
            !rules.allows(&who("svc", &[]), Permission::Read),
            "submitting is not reading others' tasks"
        );
        assert!(rules.allows(&who("a", &["audit"]), Permission::Read));
        assert!(!rules.allows(&who("a", &["audit"]), Permission::Submit));
        assert!(rules.allows(&who("b", &["approvers"]), Permission::Read));
        assert!(rules.allows(&who("b", &["approvers"]), Permission::Work));
        let platform = who("c", &["platform"]);
        for p in [
            Permission::Submit,
            Permission::Read,
            Permission::Work,
            Permission::Manage,
        ] {
            assert!(rules.allows(&platform, p));
        }
    }
}
