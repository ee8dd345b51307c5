//! Deposit packages (nộp lưu): a closed record exported as a self-describing BagIt 1.0 bag
//! (RFC 8493) — `bagit.txt`, `bag-info.txt`, the payload under `data/`, `manifest-sha256.txt`
//! and `tagmanifest-sha256.txt` — as a folder or a ZIP file (stored, uncompressed: the payload is
//! PDF). The payload holds the record's XML metadata (`data/record.xml`), and for each document
//! in filing order its archived XML metadata and its files as archived, named
//! `[Mã hồ sơ].[Số thứ tự văn bản]` (TT 02/2019). Signature verification reports do not exist yet
//! (PAdES, issue 3), so none are packaged; `bag-info.txt` says so.
//!
//! The text formats (manifests, bag-info, record XML, names) are pure; [`export`] and [`check`]
//! do the IO, streaming every file (nothing is held whole in memory). A package is written under
//! a temporary name and renamed into place only when complete.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use ring::digest::{Context, SHA256};
use serde::Serialize;

use super::metadata::{file_code_xml, Xml, XMLNS};
use super::records::RecordView;
use crate::services::Services;

pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
const MANIFEST: &str = "manifest-sha256.txt";
const TAGMANIFEST: &str = "tagmanifest-sha256.txt";
/// Largest tag file read when checking a package (bounded memory).
const MAX_TAG_FILE: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DepositError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{0}")]
    Archive(#[from] super::ArchiveError),
}

impl From<crate::storage::StorageError> for DepositError {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::Archive(e.into())
    }
}

impl From<super::StoreError> for DepositError {
    fn from(e: super::StoreError) -> Self {
        Self::Archive(e.into())
    }
}

fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> DepositError {
    let path = path.as_ref().display().to_string();
    move |source| DepositError::Io { path, source }
}

/// `"{sha256}  {path}\n"` per entry, sorted by path.
pub fn manifest_text(entries: &BTreeMap<String, String>) -> String {
    entries.iter().map(|(path, sha)| format!("{sha}  {path}\n")).collect()
}

/// Parses a manifest into path → SHA-256. Refuses malformed lines and unsafe paths.
pub fn parse_manifest(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (sha, path) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: expected '<sha256> <path>'", n + 1))?;
        let path = path.trim_start();
        let sha = sha.to_ascii_lowercase();
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("line {}: {sha:?} is not a SHA-256", n + 1));
        }
        if !safe_path(path) {
            return Err(format!("line {}: unsafe path {path:?}", n + 1));
        }
        if out.insert(path.to_string(), sha).is_some() {
            return Err(format!("line {}: {path} is listed twice", n + 1));
        }
    }
    Ok(out)
}

/// A relative path with no `..`, no absolute start, no backslash or control characters.
pub fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
        && p.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The package name of a document's `k`-th file (from 1): `[Mã hồ sơ].[DocOrdinal]` (TT 02/2019),
/// `-k` for files after the first, and the original extension when it is plain.
pub fn file_name(file_code: &str, ordinal: i64, k: usize, original: &str) -> String {
    let ext = original
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    let mut name = format!("{file_code}.{ordinal:03}");
    if k > 1 {
        name.push_str(&format!("-{k}"));
    }
    if let Some(e) = ext {
        name.push('.');
        name.push_str(&e);
    }
    name
}

/// A document of the record, as the package describes it.
#[derive(Clone, Debug)]
pub struct PackagedDocument {
    pub ordinal: i64,
    pub page_count: Option<i64>,
}

/// The record's metadata (NĐ 30 Phụ lục VI phần III, hồ sơ) as XML. Pure.
pub fn record_xml(v: &RecordView, organ_id: &str, creator: &str, docs: &[PackagedDocument]) -> String {
    let r = &v.record;
    let mut x = Xml::new();
    x.open_with(
        "RecordMetadata",
        &[("xmlns", XMLNS), ("schema", "vanthu-archive-record/1")],
    );
    file_code_xml(
        &mut x,
        &super::metadata::FileCode {
            organ_id: organ_id.to_string(),
            file_catalog: r.year,
            file_notation: r.notation.clone(),
        },
    );
    x.leaf("Title", &r.title);
    x.leaf(
        "Maintenance",
        v.retention
            .as_ref()
            .map_or(r.retention_code.as_str(), |p| p.label.as_str()),
    );
    x.leaf("Rights", "Hạn chế");
    x.leaf("Creator", creator);
    x.leaf("Language", "Tiếng Việt");
    x.opt("StartDate", r.start_date.clone());
    x.opt("EndDate", r.end_date.clone());
    x.leaf("DocTotal", &docs.len().to_string());
    let pages: i64 = docs.iter().filter_map(|d| d.page_count).sum();
    if docs.iter().all(|d| d.page_count.is_some()) {
        x.leaf("PageTotal", &pages.to_string());
    }
    x.leaf("Description", &r.heading);
    x.close("RecordMetadata");
    x.finish()
}

/// Where a package is written: a folder or a ZIP file.
enum Sink {
    Dir { root: PathBuf, file: Option<std::fs::File> },
    Zip(Box<zip::ZipWriter<std::fs::File>>),
}

impl Sink {
    fn begin(&mut self, path: &str, large: bool) -> Result<(), DepositError> {
        match self {
            Sink::Dir { root, file } => {
                let full = root.join(path);
                if let Some(parent) = full.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                *file = Some(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&full)
                        .map_err(io(&full))?,
                );
                Ok(())
            }
            Sink::Zip(z) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(large);
                z.start_file(path, options)?;
                Ok(())
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), DepositError> {
        match self {
            Sink::Dir { file, root } => match file {
                Some(f) => f.write_all(bytes).map_err(io(&*root)),
                None => Err(DepositError::Refused("internal: no file open".into())),
            },
            Sink::Zip(z) => z.write_all(bytes).map_err(io("zip")),
        }
    }

    fn end(&mut self) -> Result<(), DepositError> {
        if let Sink::Dir { file, root } = self {
            if let Some(f) = file.take() {
                f.sync_all().map_err(io(&*root))?;
            }
        }
        Ok(())
    }

    fn small(&mut self, path: &str, text: &str) -> Result<String, DepositError> {
        self.begin(path, false)?;
        self.write(text.as_bytes())?;
        self.end()?;
        Ok(hex::encode(ring::digest::digest(&SHA256, text.as_bytes())))
    }
}

/// A document to package: its ordinal, archived record and files, and the files' names.
struct Planned {
    ordinal: i64,
    archived: crate::storage::ArchivedDocumentRow,
    files: Vec<crate::storage::ArchivedFileRow>,
    names: BTreeMap<i64, String>,
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportSummary {
    pub path: String,
    pub file_code: String,
    pub documents: usize,
    pub files: usize,
    pub payload_bytes: u64,
}

/// Exports a closed record as a deposit package at `out` (a folder, or a file ending in `.zip`),
/// which must not exist yet. The record is marked deposited when the package is complete.
pub async fn export(s: &Services, record_id: i64, out: &Path) -> Result<ExportSummary, DepositError> {
    if out.exists() {
        return Err(DepositError::Refused(format!(
            "{} already exists; choose a new path",
            out.display()
        )));
    }
    let record = s.db.record(record_id).await.map_err(|e| match e {
        crate::storage::StorageError::NotFound => DepositError::Refused(format!("no record with id {record_id}")),
        other => other.into(),
    })?;
    if record.status != "closed" {
        return Err(DepositError::Refused(format!(
            "record {record_id} is {}; only a closed record is deposited",
            record.status
        )));
    }
    let agency = s.db.agency(record.agency_id).await?;
    let view = super::records::view(
        &super::retention::RetentionTable::embedded(),
        &agency.code,
        record.clone(),
        s.clock.today(),
    );
    let creator = match record.creator_id {
        Some(u) => s.db.user(u).await.map(|u| u.display_name).unwrap_or_default(),
        None => String::new(),
    };
    let filed = s.db.record_documents(record_id).await?;
    let mut docs = Vec::new();
    let mut plan = Vec::new();
    for f in &filed {
        let doc = s.db.document(f.document_id).await?;
        let (archived, files) = match s.db.archived_document_with_files(f.document_id).await {
            Ok(found) => found,
            Err(crate::storage::StorageError::NotFound) => {
                return Err(DepositError::Refused(format!(
                    "document {} is not archived yet; wait for the archive job and export again",
                    f.document_id
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let names: BTreeMap<i64, String> =
            s.db.files(f.document_id)
                .await?
                .into_iter()
                .map(|df| (df.id, df.filename))
                .collect();
        docs.push(PackagedDocument {
            ordinal: f.ordinal,
            page_count: doc.page_count,
        });
        plan.push(Planned {
            ordinal: f.ordinal,
            archived,
            files,
            names,
        });
    }

    let zip = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let partial = out.with_file_name(format!(
        ".{}.partial-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut sink = if zip {
        let f = std::fs::File::create(&partial).map_err(io(&partial))?;
        Sink::Zip(Box::new(zip::ZipWriter::new(f)))
    } else {
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        Sink::Dir {
            root: partial.clone(),
            file: None,
        }
    };
    let result = write_package(s, &mut sink, &view, &agency, &creator, &docs, plan).await;
    let finished = match (result, sink) {
        (Ok(summary), Sink::Zip(z)) => (*z)
            .finish()
            .map(|f| f.sync_all())
            .map_err(DepositError::from)
            .and_then(|r| r.map_err(io(&partial)))
            .map(|_| summary),
        (Ok(summary), Sink::Dir { .. }) => Ok(summary),
        (Err(e), _) => Err(e),
    };
    let summary = match finished {
        Ok(s) => s,
        Err(e) => {
            let _ = if zip {
                std::fs::remove_file(&partial)
            } else {
                std::fs::remove_dir_all(&partial)
            };
            return Err(e);
        }
    };
    std::fs::rename(&partial, out).map_err(io(out))?;
    let now = s.clock.now_ms();
    let entry = crate::audit::Actor::console("archive").entry(
        now,
        "record.deposit",
        "record",
        Some(record_id.to_string()),
        serde_json::json!({"package": out.display().to_string(), "files": summary.files, "bytes": summary.payload_bytes}),
    );
    s.db.change_record(
        record_id,
        &["closed"],
        &crate::storage::RecordChange::Deposited,
        now,
        entry,
    )
    .await?;
    Ok(ExportSummary {
        path: out.display().to_string(),
        ..summary
    })
}

async fn write_package(
    s: &Services,
    sink: &mut Sink,
    view: &RecordView,
    agency: &crate::storage::Agency,
    creator: &str,
    docs: &[PackagedDocument],
    plan: Vec<Planned>,
) -> Result<ExportSummary, DepositError> {
    let archive = super::service::store(s);
    let mut manifest: BTreeMap<String, String> = BTreeMap::new();
    let mut oxum_bytes: u64 = 0;
    let mut files = 0usize;
    let rx = record_xml(view, &agency.code, creator, docs);
    oxum_bytes += rx.len() as u64;
    manifest.insert("data/record.xml".into(), sink.small("data/record.xml", &rx)?);
    for Planned {
        ordinal,
        archived,
        files: archived_files,
        names,
    } in plan
    {
        let dir = format!("data/documents/{ordinal:03}");
        let xml = archive.get_bytes(&archived.metadata_xml_key).await?;
        let path = format!("{dir}/metadata.xml");
        sink.begin(&path, false)?;
        sink.write(&xml)?;
        sink.end()?;
        oxum_bytes += xml.len() as u64;
        manifest.insert(path, hex::encode(ring::digest::digest(&SHA256, &xml)));
        for (k, f) in archived_files.iter().enumerate() {
            let original = names.get(&f.file_id).map_or("", String::as_str);
            let path = format!("{dir}/{}", file_name(&view.file_code, ordinal, k + 1, original));
            let (size, mut stream) = archive.get_stream(&f.object_key).await?;
            sink.begin(&path, size >= u64::from(u32::MAX))?;
            let mut hasher = Context::new(&SHA256);
            let mut n = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| DepositError::Archive(super::StoreError::from(e).into()))?;
                hasher.update(&chunk);
                n += chunk.len() as u64;
                sink.write(&chunk)?;
            }
            sink.end()?;
            let sha = hex::encode(hasher.finish());
            if sha != f.sha256 {
                return Err(DepositError::Refused(format!(
                    "archived object {} is corrupt (sha256 {sha}, recorded {}); run `vanthu archive verify`",
                    f.object_key, f.sha256
                )));
            }
            oxum_bytes += n;
            files += 1;
            manifest.insert(path, sha);
        }
    }
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    tags.insert("bagit.txt".into(), sink.small("bagit.txt", BAGIT_TXT)?);
    let info = format!(
        "Source-Organization: {}\nOrganization-Address: {}\nExternal-Identifier: {}\nExternal-Description: {}\n\
         Bagging-Date: {}\nPayload-Oxum: {}.{}\nBag-Group-Identifier: {}\nInternal-Sender-Description: \
         Gói nộp lưu hồ sơ điện tử; báo cáo kiểm tra chữ ký số chưa có (chưa triển khai PAdES)\n",
        agency.name,
        agency.code,
        view.file_code,
        view.record.title,
        s.clock.today(),
        oxum_bytes,
        manifest.len(),
        view.record.heading,
    );
    tags.insert("bag-info.txt".into(), sink.small("bag-info.txt", &info)?);
    tags.insert(MANIFEST.into(), sink.small(MANIFEST, &manifest_text(&manifest))?);
    sink.small(TAGMANIFEST, &manifest_text(&tags))?;
    Ok(ExportSummary {
        path: String::new(),
        file_code: view.file_code.clone(),
        documents: docs.len(),
        files,
        payload_bytes: oxum_bytes,
    })
}

/// The result of checking a package.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub files_checked: usize,
    /// One line per problem, naming the file.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Read access to a package, folder or ZIP.
enum Source {
    Dir(PathBuf),
    Zip(Box<zip::ZipArchive<std::fs::File>>),
}

impl Source {
    fn open(path: &Path) -> Result<Self, DepositError> {
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        let f = std::fs::File::open(path).map_err(io(path))?;
        Ok(Self::Zip(Box::new(zip::ZipArchive::new(f)?)))
    }

    /// Every file, relative to the bag root.
    fn list(&mut self) -> Result<BTreeSet<String>, DepositError> {
        match self {
            Self::Dir(root) => {
                let mut out = BTreeSet::new();
                let mut stack = vec![root.clone()];
                while let Some(d) = stack.pop() {
                    for entry in std::fs::read_dir(&d).map_err(io(&d))? {
                        let p = entry.map_err(io(&d))?.path();
                        if p.is_dir() {
                            stack.push(p);
                        } else if let Ok(rel) = p.strip_prefix(&*root) {
                            out.insert(rel.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
                Ok(out)
            }
            Self::Zip(z) => Ok(z
                .file_names()
                .filter(|n| !n.ends_with('/'))
                .map(str::to_string)
                .collect()),
        }
    }

    /// SHA-256 of a file (streamed), or `None` when it is absent.
    fn sha256(&mut self, rel: &str) -> Result<Option<String>, DepositError> {
        let mut hasher = Context::new(&SHA256);
        let mut buf = vec![0u8; 64 * 1024];
        let mut reader: Box<dyn Read + '_> = match self {
            Self::Dir(root) => match std::fs::File::open(root.join(rel)) {
                Ok(f) => Box::new(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(rel)(e)),
            },
            Self::Zip(z) => match z.by_name(rel) {
                Ok(f) => Box::new(f),
                Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        loop {
            let n = reader.read(&mut buf).map_err(io(rel))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Some(hex::encode(hasher.finish())))
    }

    fn text(&mut self, rel: &str) -> Result<Option<String>, DepositError> {
        let reader: Box<dyn Read + '_> = match self {
            Self::Dir(root) => match std::fs::File::open(root.join(rel)) {
                Ok(f) => Box::new(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(rel)(e)),
            },
            Self::Zip(z) => match z.by_name(rel) {
                Ok(f) => Box::new(f),
                Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        let mut s = String::new();
        let n = reader.take(MAX_TAG_FILE + 1).read_to_string(&mut s).map_err(io(rel))?;
        if n as u64 > MAX_TAG_FILE {
            return Err(DepositError::Refused(format!(
                "{rel} is larger than {MAX_TAG_FILE} bytes"
            )));
        }
        Ok(Some(s))
    }
}

/// Checks a package: `bagit.txt`, every checksum of the payload and tag manifests, and that
/// every payload file is listed. Problems are collected, each naming its file.
pub fn check(path: &Path) -> Result<CheckReport, DepositError> {
    let mut src = Source::open(path)?;
    let mut report = CheckReport::default();
    match src.text("bagit.txt")? {
        Some(t) if t.contains("BagIt-Version:") => {}
        Some(_) => report.problems.push("bagit.txt: no BagIt-Version line".into()),
        None => report
            .problems
            .push("bagit.txt: missing; this is not a BagIt package".into()),
    }
    let Some(manifest) = src.text(MANIFEST)? else {
        report.problems.push(format!("{MANIFEST}: missing"));
        return Ok(report);
    };
    let entries = match parse_manifest(&manifest) {
        Ok(e) => e,
        Err(m) => {
            report.problems.push(format!("{MANIFEST}: {m}"));
            return Ok(report);
        }
    };
    for (rel, want) in &entries {
        if !rel.starts_with("data/") {
            report
                .problems
                .push(format!("{rel}: payload manifest lists a file outside data/"));
            continue;
        }
        match src.sha256(rel)? {
            None => report.problems.push(format!("{rel}: missing")),
            Some(got) if &got != want => report
                .problems
                .push(format!("{rel}: checksum mismatch (manifest {want}, file {got})")),
            Some(_) => {}
        }
        report.files_checked += 1;
    }
    for rel in src.list()? {
        if rel.starts_with("data/") && !entries.contains_key(&rel) {
            report.problems.push(format!("{rel}: not listed in {MANIFEST}"));
        }
    }
    match src.text(TAGMANIFEST)? {
        None => report.problems.push(format!("{TAGMANIFEST}: missing")),
        Some(t) => match parse_manifest(&t) {
            Err(m) => report.problems.push(format!("{TAGMANIFEST}: {m}")),
            Ok(tags) => {
                for (rel, want) in &tags {
                    match src.sha256(rel)? {
                        None => report.problems.push(format!("{rel}: missing")),
                        Some(got) if &got != want => report
                            .problems
                            .push(format!("{rel}: checksum mismatch (tag manifest {want}, file {got})")),
                        Some(_) => {}
                    }
                    report.files_checked += 1;
                }
            }
        },
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_refuses_bad_lines() {
        let mut m = BTreeMap::new();
        m.insert("data/b.pdf".to_string(), "b".repeat(64));
        m.insert("data/a.xml".to_string(), "a".repeat(64));
        let text = manifest_text(&m);
        assert!(text.starts_with(&format!("{}  data/a.xml\n", "a".repeat(64))), "{text}");
        assert_eq!(parse_manifest(&text).expect("parses"), m);
        assert!(parse_manifest("xyz  data/a").is_err());
        assert!(parse_manifest(&format!("{}  ../etc/passwd", "a".repeat(64))).is_err());
        assert!(parse_manifest(&format!("{}  /abs", "a".repeat(64))).is_err());
        assert!(parse_manifest(&format!("{0}  data/a\n{0}  data/a", "a".repeat(64))).is_err());
        assert!(parse_manifest(&"a".repeat(64)).is_err());
    }

    #[test]
    fn package_file_names_follow_tt_02() {
        let code = "000.00.99.H99.2026.01.VP";
        assert_eq!(
            file_name(code, 1, 1, "Quyết định 15.PDF"),
            "000.00.99.H99.2026.01.VP.001.pdf"
        );
        assert_eq!(
            file_name(code, 12, 2, "phu-luc.docx"),
            "000.00.99.H99.2026.01.VP.012-2.docx"
        );
        assert_eq!(file_name(code, 3, 1, "no extension"), "000.00.99.H99.2026.01.VP.003");
        assert_eq!(file_name(code, 3, 1, "x.tar/../../y"), "000.00.99.H99.2026.01.VP.003");
    }
}
