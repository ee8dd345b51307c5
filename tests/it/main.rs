//! The one integration-test binary (fast to link). Each module is one area.

mod common;

mod api_auth;
mod api_documents;
mod api_org;
mod cli;
mod edxml;
mod edxml_build;
mod edxml_cli;
mod jobs;
mod objects_s3;
mod storage;
mod tidy;
