//! Roles (vai trò) of the people who use the system.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Văn thư — clerk: registers, numbers, dispatches, keeps the registers.
    VanThu,
    /// Lãnh đạo — leader: assigns, approves, signs.
    LanhDao,
    /// Trưởng đơn vị — head of a unit.
    TruongDonVi,
    /// Chuyên viên — specialist.
    ChuyenVien,
    /// Lưu trữ — archivist.
    LuuTru,
    /// Quản trị — administrator.
    QuanTri,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Self::VanThu,
        Self::LanhDao,
        Self::TruongDonVi,
        Self::ChuyenVien,
        Self::LuuTru,
        Self::QuanTri,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::VanThu => "van_thu",
            Self::LanhDao => "lanh_dao",
            Self::TruongDonVi => "truong_don_vi",
            Self::ChuyenVien => "chuyen_vien",
            Self::LuuTru => "luu_tru",
            Self::QuanTri => "quan_tri",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::VanThu => "Văn thư",
            Self::LanhDao => "Lãnh đạo",
            Self::TruongDonVi => "Trưởng đơn vị",
            Self::ChuyenVien => "Chuyên viên",
            Self::LuuTru => "Lưu trữ",
            Self::QuanTri => "Quản trị",
        }
    }

    /// Parses a comma-separated list as stored in the database; unknown codes are dropped.
    pub fn parse_list(s: &str) -> Vec<Role> {
        let mut roles: Vec<Role> = s.split(',').filter_map(|c| Role::parse(c.trim())).collect();
        roles.sort();
        roles.dedup();
        roles
    }

    pub fn join(roles: &[Role]) -> String {
        roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
    }
}
