//! The visible-appearance options of `vanthu pdf sign` (`--appearance leader|seal|attachment`)
//! and their defaults from the signer's certificate.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use der::asn1::{BmpString, PrintableStringRef, Utf8StringRef};
use der::Decode;
use x509_cert::Certificate;

use super::pdf::Appearance as Kind;
use crate::pades::appearance::{Appearance, AppearanceKind, Rect, DEFAULT_SEAL_SIZE_MM};

#[derive(Debug, Args)]
pub struct AppearanceArgs {
    /// PNG image: the handwritten signature (leader, blue on transparent) or the seal (seal,
    /// red on transparent), at most 4096×4096 pixels.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Leader: the position (chức vụ) above the image; "\n" separates lines, e.g.
    /// "KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG". Default: the certificate's title, in capitals.
    #[arg(long, value_name = "TEXT")]
    pub position: Option<String>,
    /// Leader: the name below the image. Default: the certificate's common name.
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Page of the visible signature (1-based). Default: the last page (leader), the leader's
    /// signature page (seal), page 1 (attachment).
    #[arg(long, value_name = "N")]
    pub page: Option<usize>,
    /// Widget rectangle in points, x1,y1,x2,y2 (origin bottom left). Default: bottom right of
    /// the page (leader), over the left third of the leader's signature image (seal), top right
    /// of page 1 (attachment).
    #[arg(long, value_name = "X1,Y1,X2,Y2")]
    pub rect: Option<Rect>,
    /// Seal: the seal's diameter in millimetres (drawn at actual size).
    #[arg(long, value_name = "MM", default_value_t = DEFAULT_SEAL_SIZE_MM)]
    pub seal_size_mm: f32,
    /// Attachment: the number and symbol of the document, e.g. "123/QĐ-BTP".
    #[arg(long, value_name = "TEXT")]
    pub number_symbol: Option<String>,
    /// Attachment: the issuing agency's name. Default: the certificate's organisation.
    #[arg(long, value_name = "TEXT")]
    pub agency: Option<String>,
}

/// A text attribute of the certificate's subject (UTF8String, PrintableString or BMPString).
fn subject_text(cert: &Certificate, oid: der::asn1::ObjectIdentifier) -> Option<String> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .find_map(|atv| {
            let der = der::Encode::to_der(&atv.value).ok()?;
            Utf8StringRef::from_der(&der)
                .map(|s| s.as_str().to_string())
                .or_else(|_| PrintableStringRef::from_der(&der).map(|s| s.as_str().to_string()))
                .or_else(|_| BmpString::from_der(&der).map(|s| s.to_string()))
                .ok()
        })
}

/// Turns the options into the library's appearance (`None` for `--appearance none`).
pub fn build(kind: Kind, args: &AppearanceArgs, cert: &Certificate) -> Result<Option<Appearance>> {
    let image = || -> Result<Vec<u8>> {
        let Some(path) = &args.image else {
            let name = clap::ValueEnum::to_possible_value(&kind).map(|v| v.get_name().to_string());
            bail!("--appearance {} needs --image FILE (a PNG)", name.unwrap_or_default());
        };
        std::fs::read(path).with_context(|| format!("cannot read the image {}", path.display()))
    };
    let kind = match kind {
        Kind::None => return Ok(None),
        Kind::Leader => {
            let position = match &args.position {
                Some(p) => p.clone(),
                None => subject_text(cert, const_oid::db::rfc4519::TITLE)
                    .map(|t| t.to_uppercase())
                    .unwrap_or_default(),
            };
            let name = match &args.name {
                Some(n) => n.clone(),
                None => subject_text(cert, const_oid::db::rfc4519::CN).unwrap_or_default(),
            };
            AppearanceKind::Leader {
                image: image()?,
                position: position.replace("\\n", "\n").lines().map(str::to_string).collect(),
                name,
            }
        }
        Kind::Seal => AppearanceKind::Seal {
            image: image()?,
            size_mm: args.seal_size_mm,
        },
        Kind::Attachment => AppearanceKind::Attachment {
            number_symbol: args
                .number_symbol
                .clone()
                .context("--appearance attachment needs --number-symbol, e.g. \"123/QĐ-BTP\"")?,
            agency: args
                .agency
                .clone()
                .or_else(|| subject_text(cert, const_oid::db::rfc4519::O)),
        },
    };
    Ok(Some(Appearance {
        kind,
        page: args.page,
        rect: args.rect,
    }))
}
