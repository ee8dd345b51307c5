//! Helpers shared by the PAdES suites: test-PKI paths, process output, pyHanko discovery.

use std::path::Path;

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
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

/// `Some(())` when `cmd` runs (with `arg`, a harmless flag such as `-v`), else a skip.
pub fn tool(cmd: &str, arg: &str) -> Option<()> {
    match Command::new(cmd).arg(arg).output() {
        Ok(_) => Some(()),
        Err(_) => common::skip(&format!("{cmd} is not installed (.ci/run installs it)")),
    }
}

/// pyHanko's CLI, after checking that pdfsig, certutil (for pdfsig's NSS store) and qpdf are
/// there too: the validators of the PAdES interoperability tests.
pub fn validators() -> Option<String> {
    let pyhanko = pyhanko()?;
    tool("pdfsig", "-v")?;
    tool("certutil", "-H")?;
    tool("qpdf", "--version")?;
    Some(pyhanko)
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

/// A small multi-page PDF made with lopdf (classic xref table).
pub fn sample_pdf(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for n in 0..pages {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 14.into()]),
                Operation::new("Td", vec![72.into(), 760.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!(
                        "QUYET DINH so 123/QD-BTP - trang {}",
                        n + 1
                    ))],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("encode content")));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64, "Resources" => resources_id },
        ),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save sample pdf");
    out
}

/// `pyhanko sign validate` trusting the test root, without revocation checks.
pub fn pyhanko_validate(pyhanko: &str, file: &Path) -> Output {
    Command::new(pyhanko)
        .args([
            "sign",
            "validate",
            "--trust",
            &certs("root-ca.pem"),
            "--trust-replace",
            "--no-revocation-check",
        ])
        .arg(file)
        .output()
        .expect("run pyhanko")
}

/// A scratch folder for one test: files written by name, and the NSS database pdfsig reads.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    /// The NSS database pdfsig reads, trusting the test root (made on first use).
    pub fn nss(&self) -> String {
        let dir = self.path("nss");
        let db = format!("sql:{}", dir.display());
        if !dir.exists() {
            std::fs::create_dir(&dir).expect("nss dir");
            let o = Command::new("certutil")
                .args(["-N", "-d", &db, "--empty-password"])
                .output()
                .expect("certutil -N");
            assert!(o.status.success(), "{}", text(&o));
            let o = Command::new("certutil")
                .args(["-A", "-d", &db, "-n", "vanthu-test-root", "-t", "CT,C,C", "-i"])
                .arg(certs("root-ca.pem"))
                .output()
                .expect("certutil -A");
            assert!(o.status.success(), "{}", text(&o));
        }
        db
    }
}

/// `struct Work`: a [`Scratch`] folder (reached through `Deref`) that a test file extends with its
/// own `impl Work { … }` helpers, and `Work::new()`.
#[macro_export]
macro_rules! scratch_work {
    () => {
        struct Work($crate::pades_support::Scratch);

        impl std::ops::Deref for Work {
            type Target = $crate::pades_support::Scratch;

            fn deref(&self) -> &$crate::pades_support::Scratch {
                &self.0
            }
        }

        impl Work {
            fn new() -> Self {
                Self($crate::pades_support::Scratch::new())
            }
        }
    };
}
