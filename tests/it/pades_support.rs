//! Helpers shared by the PAdES suites: test-PKI paths, process output, pyHanko discovery.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

/// Absolute path of a file in `certs-test/`.
pub fn certs(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs-test")
        .join(name)
        .display()
        .to_string()
}

/// stdout then stderr of a finished process.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The pyHanko CLI (`VANTHU_TEST_PYHANKO`, else `pyhanko` on PATH), or `None` after skipping.
pub fn pyhanko() -> Option<String> {
    let path = std::env::var("VANTHU_TEST_PYHANKO")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "pyhanko".into());
    match Command::new(&path).arg("--version").output() {
        Ok(o) if o.status.success() => Some(path),
        _ => common::skip("pyHanko is not installed (set VANTHU_TEST_PYHANKO; .ci/run installs it)"),
    }
}
