//! Urgency (mức độ khẩn), secrecy (độ mật) and signing-authority (thẩm quyền ký) marks.

use serde::{Deserialize, Serialize};

/// Urgency of a document. `priority()` is the single digit used on the exchange axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Thường.
    #[default]
    Thuong,
    /// Khẩn.
    Khan,
    /// Thượng khẩn.
    ThuongKhan,
    /// Hỏa tốc.
    HoaToc,
    /// Hỏa tốc hẹn giờ.
    HoaTocHenGio,
}

impl Urgency {
    pub const ALL: [Urgency; 5] = [
        Self::Thuong,
        Self::Khan,
        Self::ThuongKhan,
        Self::HoaToc,
        Self::HoaTocHenGio,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Thuong => "thuong",
            Self::Khan => "khan",
            Self::ThuongKhan => "thuong_khan",
            Self::HoaToc => "hoa_toc",
            Self::HoaTocHenGio => "hoa_toc_hen_gio",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.code() == code)
    }

    /// Vietnamese label as printed.
    pub fn label(self) -> &'static str {
        match self {
            Self::Thuong => "Thường",
            Self::Khan => "Khẩn",
            Self::ThuongKhan => "Thượng khẩn",
            Self::HoaToc => "Hỏa tốc",
            Self::HoaTocHenGio => "Hỏa tốc hẹn giờ",
        }
    }

    /// edXML Priority digit: 0 Thường … 4 Hỏa tốc hẹn giờ.
    pub fn priority(self) -> u8 {
        match self {
            Self::Thuong => 0,
            Self::Khan => 1,
            Self::ThuongKhan => 2,
            Self::HoaToc => 3,
            Self::HoaTocHenGio => 4,
        }
    }
}

/// Secrecy marks. Documents carrying any of them do not belong in this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Secrecy {
    /// Mật.
    Mat,
    /// Tối mật.
    ToiMat,
    /// Tuyệt mật.
    TuyetMat,
}

impl Secrecy {
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "mat" => Some(Self::Mat),
            "toi_mat" => Some(Self::ToiMat),
            "tuyet_mat" => Some(Self::TuyetMat),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Mat => "Mật",
            Self::ToiMat => "Tối mật",
            Self::TuyetMat => "Tuyệt mật",
        }
    }
}

/// Signing-authority form (NĐ 30 Điều 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SigningAuthority {
    /// Signs as the head (no prefix).
    Direct,
    /// TM. — on behalf of a collective.
    Tm,
    /// KT. — a deputy signs in place of the head.
    Kt,
    /// Q. — acting head.
    Q,
    /// TL. — by order of the head.
    Tl,
    /// TUQ. — by written, time-limited authorisation of the head.
    Tuq,
}

impl SigningAuthority {
    pub const ALL: [SigningAuthority; 6] = [Self::Direct, Self::Tm, Self::Kt, Self::Q, Self::Tl, Self::Tuq];

    pub fn code(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Tm => "tm",
            Self::Kt => "kt",
            Self::Q => "q",
            Self::Tl => "tl",
            Self::Tuq => "tuq",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The printed prefix, e.g. `KT.`; empty for a direct signature.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Direct => "",
            Self::Tm => "TM.",
            Self::Kt => "KT.",
            Self::Q => "Q.",
            Self::Tl => "TL.",
            Self::Tuq => "TUQ.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_codes_round_trip_and_map_to_axis_priority() {
        for u in Urgency::ALL {
            assert_eq!(Urgency::parse(u.code()), Some(u));
        }
        assert_eq!(Urgency::HoaTocHenGio.priority(), 4);
        assert_eq!(Urgency::parse("urgent"), None);
    }

    #[test]
    fn secrecy_and_authority_parse() {
        assert_eq!(Secrecy::parse("toi_mat"), Some(Secrecy::ToiMat));
        assert_eq!(
            SigningAuthority::parse("tuq").map(SigningAuthority::prefix),
            Some("TUQ.")
        );
    }
}
