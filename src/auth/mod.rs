//! Authentication (passwords, session tokens) and the pure authorisation policy.

pub mod password;
pub mod policy;
pub mod token;

pub use policy::{Action, DocumentScope, Grant, Principal, ReadScope};
