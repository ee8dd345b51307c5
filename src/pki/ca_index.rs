//! An OpenSSL CA database (`openssl ca`'s `index.txt`): one line per issued certificate,
//! tab-separated: status (`V` valid, `R` revoked, `E` expired), expiry, revocation
//! `YYMMDDHHMMSSZ[,reason]`, serial (hex), file name, subject. Pure parsing.

use chrono::{DateTime, NaiveDateTime, Utc};
use x509_cert::ext::pkix::CrlReason;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexStatus {
    Valid,
    Revoked {
        at: DateTime<Utc>,
        reason: Option<CrlReason>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct CaIndex {
    /// (serial without leading zero bytes, status)
    entries: Vec<(Vec<u8>, IndexStatus)>,
}

fn trim_serial(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn reason(name: &str) -> Option<CrlReason> {
    Some(match name {
        "unspecified" => CrlReason::Unspecified,
        "keyCompromise" => CrlReason::KeyCompromise,
        "CACompromise" => CrlReason::CaCompromise,
        "affiliationChanged" => CrlReason::AffiliationChanged,
        "superseded" => CrlReason::Superseded,
        "cessationOfOperation" => CrlReason::CessationOfOperation,
        "certificateHold" => CrlReason::CertificateHold,
        "removeFromCRL" => CrlReason::RemoveFromCRL,
        _ => return None,
    })
}

/// `YYMMDDHHMMSSZ` (UTCTime, 1950–2049) or `YYYYMMDDHHMMSSZ`.
fn index_time(s: &str) -> Option<DateTime<Utc>> {
    let t = match s.len() {
        13 => NaiveDateTime::parse_from_str(s, "%y%m%d%H%M%SZ").ok()?,
        15 => NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%SZ").ok()?,
        _ => return None,
    };
    Some(t.and_utc())
}

impl CaIndex {
    /// Parses the database; malformed lines are skipped (the responder answers `unknown`).
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        for line in text.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let [status, _expiry, revocation, serial, ..] = cols[..] else {
                continue;
            };
            let Ok(serial) = hex::decode(if serial.len() % 2 == 1 {
                format!("0{serial}")
            } else {
                serial.to_string()
            }) else {
                continue;
            };
            let status = match status {
                "V" | "E" => IndexStatus::Valid,
                "R" => {
                    let mut parts = revocation.split(',');
                    let Some(at) = parts.next().and_then(index_time) else {
                        continue;
                    };
                    IndexStatus::Revoked {
                        at,
                        reason: parts.next().and_then(reason),
                    }
                }
                _ => continue,
            };
            entries.push((trim_serial(&serial).to_vec(), status));
        }
        Self { entries }
    }

    /// The status of the certificate with this serial (DER integer bytes), `None` if unknown.
    pub fn status(&self, serial: &[u8]) -> Option<&IndexStatus> {
        let serial = trim_serial(serial);
        self.entries.iter().find(|(s, _)| s == serial).map(|(_, st)| st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_revoked_and_unknown_serials() {
        let idx = CaIndex::parse(
            "V\t20951231235959Z\t\t2001\tunknown\t/CN=a\nR\t20951231235959Z\t250101000000Z,keyCompromise\t2009\tunknown\t/CN=b\ngarbage\n",
        );
        assert_eq!(idx.status(&[0x20, 0x01]), Some(&IndexStatus::Valid));
        assert_eq!(idx.status(&[0x00, 0x20, 0x01]), Some(&IndexStatus::Valid));
        let Some(IndexStatus::Revoked { at, reason }) = idx.status(&[0x20, 0x09]) else {
            panic!("revoked expected")
        };
        assert_eq!(at.to_rfc3339(), "2025-01-01T00:00:00+00:00");
        assert_eq!(*reason, Some(CrlReason::KeyCompromise));
        assert_eq!(idx.status(&[0x30]), None);
    }
}
