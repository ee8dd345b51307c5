//! The national document axis (Trục liên thông văn bản quốc gia, VNPT VXP), brief `edxml.md` §6.
//!
//! - [`protocol`] (pure): `XroadVnpt-*` headers, the HMAC-SHA256 over the sign-header JSON, the
//!   `{status, ErrorCode, ErrorDesc, ...}` envelope and list rows.
//! - [`tenants`], [`faults`], [`routing`] (pure): the mock's tenants file, fault injection, and
//!   routing (documents to every `To/OrganId`, statuses to `ResponseFor/OrganId`; the appended
//!   TraceHeader).
//! - [`client`]: `AxisClient` over HTTP with retries; [`receive`]: idempotent receive.
//! - [`mock`]: the mock axis's service (storage in `storage::axis_mock`, HTTP in
//!   `http::axis_mock`).

pub mod client;
pub mod faults;
pub mod mock;
pub mod protocol;
pub mod receive;
pub mod routing;
pub mod tenants;

pub use client::{AxisClient, ClientError, ClientSettings, RetryPolicy};
pub use faults::{Faults, Outcome};
pub use mock::{MockAxis, MockError, MockSettings};
pub use protocol::{AckStatus, MessageType};
pub use tenants::{Tenant, Tenants};
