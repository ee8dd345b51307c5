//! The mock axis's tenants file (TOML):
//!
//! ```toml
//! [[tenant]]
//! system_id = "vxp.saas.03"
//! secret = "c2VjcmV0"
//! organs = ["000.00.00.G12", "000.00.01.G12"]
//! ```
//!
//! A tenant is one connected system (a VXP "system id" with its shared HMAC secret); its organs
//! are the agency codes whose packets it receives.

use std::collections::HashMap;

use serde::Deserialize;

use crate::config::Secret;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub system_id: String,
    pub secret: Secret,
    pub organs: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantsError {
    #[error("invalid tenants file: {0}")]
    Toml(String),
    #[error("a tenant has an empty system_id or secret")]
    Empty,
    #[error("system_id {0:?} appears twice")]
    DuplicateSystem(String),
    #[error("organ {0:?} belongs to two tenants")]
    DuplicateOrgan(String),
    #[error("the tenants file lists no tenant")]
    NoTenant,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    tenant: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    system_id: String,
    secret: String,
    #[serde(default)]
    organs: Vec<String>,
}

/// All tenants, by system id.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    by_id: HashMap<String, Tenant>,
    order: Vec<String>,
}

impl Tenants {
    pub fn parse(text: &str) -> Result<Self, TenantsError> {
        let file: FileShape = toml::from_str(text).map_err(|e| TenantsError::Toml(e.message().to_owned()))?;
        if file.tenant.is_empty() {
            return Err(TenantsError::NoTenant);
        }
        let mut out = Self::default();
        let mut organs = HashMap::new();
        for e in file.tenant {
            let system_id = e.system_id.trim().to_owned();
            if system_id.is_empty() || e.secret.is_empty() {
                return Err(TenantsError::Empty);
            }
            let mut own = Vec::new();
            for o in e.organs {
                let o = o.trim().to_owned();
                if o.is_empty() {
                    continue;
                }
                if organs.insert(o.clone(), system_id.clone()).is_some() {
                    return Err(TenantsError::DuplicateOrgan(o));
                }
                own.push(o);
            }
            if out.by_id.contains_key(&system_id) {
                return Err(TenantsError::DuplicateSystem(system_id));
            }
            out.order.push(system_id.clone());
            out.by_id.insert(
                system_id.clone(),
                Tenant {
                    system_id,
                    secret: Secret::new(e.secret),
                    organs: own,
                },
            );
        }
        Ok(out)
    }

    pub fn get(&self, system_id: &str) -> Option<&Tenant> {
        self.by_id.get(system_id)
    }

    /// The tenant's secret, for the HMAC check.
    pub fn secret_of(&self, system_id: &str) -> Option<&str> {
        self.get(system_id).map(|t| t.secret.expose())
    }

    /// Tenants in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Tenant> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let t = Tenants::parse(
            "[[tenant]]\nsystem_id = \"a\"\nsecret = \"s1\"\norgans = [\"000.00.00.G12\"]\n\
             [[tenant]]\nsystem_id = \"b\"\nsecret = \"s2\"\norgans = [\"000.00.00.H41\", \" \"]\n",
        )
        .expect("valid");
        assert_eq!(t.secret_of("a"), Some("s1"));
        assert_eq!(
            t.get("b").map(|t| t.organs.clone()),
            Some(vec!["000.00.00.H41".to_owned()])
        );
        assert_eq!(t.iter().count(), 2);
        assert_eq!(Tenants::parse("").err(), Some(TenantsError::NoTenant));
        assert_eq!(
            Tenants::parse("[[tenant]]\nsystem_id = \"a\"\nsecret = \"\"\n").err(),
            Some(TenantsError::Empty)
        );
        assert!(matches!(
            Tenants::parse("[[tenant]]\nsystem_id = \"a\"\nsecret = \"x\"\norgans=[\"O\"]\n[[tenant]]\nsystem_id = \"b\"\nsecret = \"y\"\norgans=[\"O\"]\n"),
            Err(TenantsError::DuplicateOrgan(_))
        ));
        assert!(matches!(
            Tenants::parse("[[tenant]]\nsystem_id = \"a\"\nsecret = \"x\"\nfoo = 1\n"),
            Err(TenantsError::Toml(_))
        ));
    }
}
