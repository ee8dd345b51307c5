//! vanthu — document-management and digital-signature workflow server for Vietnamese government
//! bodies. See ARCHITECTURE.md for the code map and the invariants.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod archive;
pub mod audit;
pub mod auth;
pub mod axis;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod edxml;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod objects;
pub mod pades;
pub mod pki;
pub mod registers;
pub mod registry;
pub mod search;
pub mod services;
pub mod session_cache;
pub mod storage;

pub use app::App;
pub use config::Config;
