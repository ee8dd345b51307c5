//! `serve --demo`: seeds a fictional agency with one user per role on an empty database.

use crate::admin::{self, AgencyInput, UnitInput, UserInput};
use crate::audit::Actor;
use crate::error::AppResult;
use crate::services::Services;

/// The fixed demo password (PRODUCT.md "Fixed names").
pub const DEMO_PASSWORD: &str = "vanthu-demo";

/// Demo users: (username, display name, position, role, unit abbreviation).
pub const DEMO_USERS: [(&str, &str, &str, &str, &str); 6] = [
    ("vanthu", "Nguyễn Thị Thu", "Văn thư cơ quan", "van_thu", "VP"),
    ("lanhdao", "Trần Văn Minh", "Cục trưởng", "lanh_dao", "VP"),
    (
        "truongphong",
        "Lê Hoàng Nam",
        "Trưởng phòng Nghiệp vụ",
        "truong_don_vi",
        "NV",
    ),
    ("chuyenvien", "Phạm Thị Hương", "Chuyên viên", "chuyen_vien", "NV"),
    ("luutru", "Đỗ Quang Huy", "Lưu trữ viên", "luu_tru", "VP"),
    ("quantri", "Vũ Đức Anh", "Quản trị hệ thống", "quan_tri", "VP"),
];

/// Seeds when the database has no users; returns whether it seeded.
pub async fn seed_if_empty(s: &Services) -> AppResult<bool> {
    if s.db.user_count().await? > 0 {
        return Ok(false);
    }
    let actor = Actor::console("demo-seed");
    let agency = admin::create_agency(
        s,
        &actor,
        &AgencyInput {
            code: "000.00.99.H99".into(),
            name: "Cục Thi hành án dân sự tỉnh Mẫu Sơn".into(),
            abbreviation: "CTHADS".into(),
            parent_name: Some("Bộ Tư pháp".into()),
            place_name: Some("Mẫu Sơn".into()),
        },
    )
    .await?;
    let mut unit_ids = std::collections::HashMap::new();
    for (name, abbr) in [
        ("Văn phòng", "VP"),
        ("Phòng Nghiệp vụ và Tổ chức thi hành án", "NV"),
        ("Phòng Kiểm tra", "KT"),
    ] {
        let unit = admin::create_unit(
            s,
            &actor,
            agency.id,
            &UnitInput {
                name: name.into(),
                abbreviation: abbr.into(),
                parent_id: None,
            },
        )
        .await?;
        unit_ids.insert(abbr, unit.id);
    }
    let (m, t) = (s.config.security.argon2_memory_kib, s.config.security.argon2_iterations);
    let hash = tokio::task::spawn_blocking(move || crate::auth::password::hash(DEMO_PASSWORD, m, t))
        .await
        .map_err(|e| crate::error::AppError::internal(e.to_string()))?
        .map_err(|e| crate::error::AppError::internal(e.to_string()))?;
    for (username, name, position, role, unit) in DEMO_USERS {
        let input = UserInput {
            username: username.into(),
            display_name: name.into(),
            password: String::new(),
            unit_id: unit_ids.get(unit).copied(),
            position: Some(position.into()),
            roles: vec![role.into()],
        };
        admin::create_user(s, &actor, agency.id, &input, Some(hash.clone())).await?;
    }
    Ok(true)
}
