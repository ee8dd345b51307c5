//! Retention (thời hạn bảo quản), disposal and deposit rules for records (hồ sơ). Pure: the
//! periods come from versioned data (`src/data/retention.toml`), dates come in as arguments.
//!
//! - A period is permanent, a number of years, or "until superseded" (hồ sơ nguyên tắc).
//! - Years are counted from the year the work ended (TT 10/2022/TT-BNV): a 5-year record whose
//!   work ended in 2020 is kept through 31/12/2025 and may be disposed of from 01/01/2026.
//! - A legal hold blocks disposal whatever the period says.
//! - Deposit (nộp lưu) into lưu trữ hiện hành is due within `deposit_within_years` counted from
//!   the year the work ended (Luật Lưu trữ 2024), i.e. by 31 December of that later year; the
//!   system warns `warn_days_ahead` days before (NĐ 30 Phụ lục VI §III.5.b: 30 days).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

const DATA: &str = include_str!("../data/retention.toml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetentionKind {
    Permanent,
    Years,
    UntilSuperseded,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetentionPeriod {
    /// Stable ASCII id, e.g. `10_nam`.
    pub code: String,
    /// As printed in the danh mục hồ sơ, e.g. `10 năm`.
    pub label: String,
    pub kind: RetentionKind,
    #[serde(default)]
    pub years: Option<u32>,
    /// Whether records with this period are deposited (nộp lưu).
    pub deposit: bool,
}

#[derive(Clone, Debug, Deserialize)]
struct Version {
    id: String,
    effective_from: NaiveDate,
    legal_basis: String,
    deposit_within_years: u32,
    warn_days_ahead: u32,
    periods: Vec<RetentionPeriod>,
}

#[derive(Debug, Deserialize)]
struct File {
    version: Vec<Version>,
}

/// The retention table, every version.
#[derive(Clone, Debug)]
pub struct RetentionTable {
    versions: Vec<Version>,
}

/// The version in force on a date.
#[derive(Clone, Copy, Debug)]
pub struct RetentionRules<'a> {
    v: &'a Version,
}

impl RetentionTable {
    pub fn embedded() -> Self {
        // The embedded data is checked by a unit test; an empty table refuses every period.
        Self::from_toml(DATA).unwrap_or(Self { versions: Vec::new() })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut versions = file.version;
        for v in &versions {
            for p in &v.periods {
                let ok = match p.kind {
                    RetentionKind::Years => p.years.is_some_and(|y| y > 0),
                    _ => p.years.is_none(),
                };
                if !ok {
                    return Err(format!("version {}: period {} has a wrong `years`", v.id, p.code));
                }
            }
        }
        versions.sort_by_key(|v| v.effective_from);
        Ok(Self { versions })
    }

    /// A version by id (the one a record's period was chosen from).
    pub fn version(&self, id: &str) -> Option<RetentionRules<'_>> {
        self.versions.iter().find(|v| v.id == id).map(|v| RetentionRules { v })
    }

    pub fn in_force(&self, date: NaiveDate) -> Option<RetentionRules<'_>> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .map(|v| RetentionRules { v })
    }
}

impl<'a> RetentionRules<'a> {
    pub fn id(&self) -> &'a str {
        &self.v.id
    }
    pub fn legal_basis(&self) -> &'a str {
        &self.v.legal_basis
    }
    pub fn periods(&self) -> &'a [RetentionPeriod] {
        &self.v.periods
    }
    pub fn period(&self, code: &str) -> Option<&'a RetentionPeriod> {
        self.v.periods.iter().find(|p| p.code == code)
    }

    /// The deposit deadline of a record whose work ended on `end_date`, if it is deposited.
    pub fn deposit_due(&self, period: &RetentionPeriod, end_date: NaiveDate) -> Option<NaiveDate> {
        if !period.deposit {
            return None;
        }
        let year = end_date
            .year()
            .checked_add(i32::try_from(self.v.deposit_within_years).ok()?)?;
        NaiveDate::from_ymd_opt(year, 12, 31)
    }

    /// Whether to warn that the deposit is due (from `warn_days_ahead` days before the deadline).
    pub fn deposit_warning(&self, due: NaiveDate, today: NaiveDate) -> bool {
        today >= due - chrono::Duration::days(i64::from(self.v.warn_days_ahead))
    }
}

/// The first day a record with this period may be disposed of, when the period is a number of
/// years; `None` for permanent and "until superseded" records.
pub fn disposable_from(period: &RetentionPeriod, end_year: i32) -> Option<NaiveDate> {
    match (period.kind, period.years) {
        (RetentionKind::Years, Some(y)) => {
            let last_year = end_year.checked_add(i32::try_from(y).ok()?)?;
            NaiveDate::from_ymd_opt(last_year.checked_add(1)?, 1, 1)
        }
        _ => None,
    }
}

/// What disposal needs to know about a record.
#[derive(Clone, Debug)]
pub struct DisposalCase<'a> {
    pub period: &'a RetentionPeriod,
    /// Set when the record is closed (kết thúc hồ sơ).
    pub end_date: Option<NaiveDate>,
    /// "Until superseded" records: the day their documents stopped being in force.
    pub superseded_on: Option<NaiveDate>,
    pub legal_hold: bool,
    pub disposed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DisposalRefusal {
    #[error("the record is already disposed of")]
    AlreadyDisposed,
    #[error("the record is under a legal hold, which blocks disposal")]
    LegalHold,
    #[error("the record is not closed; retention counts from the year its work ended")]
    NotClosed,
    #[error("the record is kept permanently (vĩnh viễn)")]
    Permanent,
    #[error("the record's documents are still in force (kept until superseded)")]
    NotSuperseded,
    #[error("the retention period runs until {last_day}; disposal is possible from {from}")]
    NotExpired { last_day: NaiveDate, from: NaiveDate },
}

/// Whether a record may be disposed of on `today`.
pub fn check_disposal(c: &DisposalCase<'_>, today: NaiveDate) -> Result<(), DisposalRefusal> {
    if c.disposed {
        return Err(DisposalRefusal::AlreadyDisposed);
    }
    if c.legal_hold {
        return Err(DisposalRefusal::LegalHold);
    }
    let Some(end) = c.end_date else {
        return Err(DisposalRefusal::NotClosed);
    };
    match c.period.kind {
        RetentionKind::Permanent => Err(DisposalRefusal::Permanent),
        RetentionKind::UntilSuperseded => match c.superseded_on {
            Some(d) if d <= today => Ok(()),
            _ => Err(DisposalRefusal::NotSuperseded),
        },
        RetentionKind::Years => {
            let from = disposable_from(c.period, end.year()).ok_or(DisposalRefusal::Permanent)?;
            if today >= from {
                Ok(())
            } else {
                Err(DisposalRefusal::NotExpired {
                    last_day: from.pred_opt().unwrap_or(from),
                    from,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn rules() -> RetentionRules<'static> {
        let table = Box::leak(Box::new(RetentionTable::embedded()));
        table.in_force(d("2026-01-01")).expect("a version in force")
    }

    #[test]
    fn embedded_table_has_the_periods_of_the_regulation() {
        let r = rules();
        assert_eq!(r.id(), "tt10-2022");
        let codes: Vec<&str> = r.periods().iter().map(|p| p.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "vinh_vien",
                "70_nam",
                "50_nam",
                "20_nam",
                "10_nam",
                "5_nam",
                "den_khi_het_hieu_luc"
            ]
        );
        assert_eq!(r.period("vinh_vien").map(|p| p.label.as_str()), Some("Vĩnh viễn"));
        assert!(RetentionTable::embedded().in_force(d("2023-02-14")).is_none());
        assert!(RetentionTable::from_toml("[[version]]\nid='x'\neffective_from='2020-01-01'\nlegal_basis='x'\ndeposit_within_years=1\nwarn_days_ahead=30\n[[version.periods]]\ncode='a'\nlabel='a'\nkind='years'\ndeposit=true\n").is_err());
    }

    #[test]
    fn years_count_from_the_year_the_work_ended() {
        let five = rules().period("5_nam").expect("5 years");
        let clock = ManualClock::new("2025-12-31T16:59:59Z".parse().expect("t"));
        let case = DisposalCase {
            period: five,
            end_date: Some(d("2020-03-10")),
            superseded_on: None,
            legal_hold: false,
            disposed: false,
        };
        // 31/12/2025 23:59:59 in Vietnam: still within the period.
        assert_eq!(
            check_disposal(&case, clock.today()),
            Err(DisposalRefusal::NotExpired {
                last_day: d("2025-12-31"),
                from: d("2026-01-01")
            })
        );
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(clock.today(), d("2026-01-01"));
        assert_eq!(check_disposal(&case, clock.today()), Ok(()));
        // A legal hold blocks it; so does an open record.
        let held = DisposalCase {
            legal_hold: true,
            ..case.clone()
        };
        assert_eq!(check_disposal(&held, clock.today()), Err(DisposalRefusal::LegalHold));
        let open = DisposalCase {
            end_date: None,
            ..case.clone()
        };
        assert_eq!(check_disposal(&open, clock.today()), Err(DisposalRefusal::NotClosed));
        let done = DisposalCase { disposed: true, ..case };
        assert_eq!(
            check_disposal(&done, clock.today()),
            Err(DisposalRefusal::AlreadyDisposed)
        );
    }

    #[test]
    fn permanent_is_never_and_until_superseded_waits_for_supersession() {
        let r = rules();
        let perm = r.period("vinh_vien").expect("permanent");
        let case = DisposalCase {
            period: perm,
            end_date: Some(d("1990-01-01")),
            superseded_on: None,
            legal_hold: false,
            disposed: false,
        };
        assert_eq!(check_disposal(&case, d("2300-01-01")), Err(DisposalRefusal::Permanent));
        let until = r.period("den_khi_het_hieu_luc").expect("until superseded");
        let case = DisposalCase { period: until, ..case };
        assert_eq!(
            check_disposal(&case, d("2026-01-01")),
            Err(DisposalRefusal::NotSuperseded)
        );
        let superseded = DisposalCase {
            superseded_on: Some(d("2026-05-01")),
            ..case
        };
        assert_eq!(
            check_disposal(&superseded, d("2026-04-30")),
            Err(DisposalRefusal::NotSuperseded)
        );
        assert_eq!(check_disposal(&superseded, d("2026-05-01")), Ok(()));
        for (code, end, from) in [("70_nam", 2026, "2097-01-01"), ("10_nam", 2026, "2037-01-01")] {
            let p = r.period(code).expect("period");
            assert_eq!(disposable_from(p, end), Some(d(from)), "{code}");
        }
    }

    #[test]
    fn deposit_is_due_within_a_year_and_warned_30_days_ahead() {
        let r = rules();
        let ten = r.period("10_nam").expect("10 years");
        let due = r.deposit_due(ten, d("2025-06-30")).expect("deposited");
        assert_eq!(due, d("2026-12-31"));
        assert!(!r.deposit_warning(due, d("2026-11-30")));
        assert!(r.deposit_warning(due, d("2026-12-01")));
        assert!(r.deposit_warning(due, d("2027-02-01")), "overdue still warns");
        let until = r.period("den_khi_het_hieu_luc").expect("until superseded");
        assert_eq!(r.deposit_due(until, d("2025-06-30")), None);
    }
}
