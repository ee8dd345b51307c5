//! The one integration-test binary (fast to link). Each module is one area.

mod common;

mod api_auth;
mod api_documents;
mod api_org;
mod archive;
mod archive_records;
mod axis;
mod cli;
mod edxml;
mod edxml_build;
mod edxml_cli;
mod edxml_dsig;
mod jobs;
mod objects_s3;
mod pades_appearance;
mod pades_certify;
mod pades_external;
mod pades_ltv;
mod pades_sign;
mod pades_support;
mod pades_verify;
mod pki_test_certs;
mod search;
mod storage;
mod tidy;
