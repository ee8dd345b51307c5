//! Authorisation policy: who may do what. Pure — the principal (with delegations already
//! resolved for the current instant) and the resource come in as data.
//!
//! Rules:
//! - văn thư, lãnh đạo and lưu trữ see every document of their agency;
//! - trưởng đơn vị and chuyên viên see documents of their unit, and documents they created;
//! - quản trị manages the organisation, users, number series and reads the audit log, but does
//!   not read documents (least privilege);
//! - a delegation (ủy quyền) lends some of the delegator's roles, with the delegator's unit, for
//!   its validity window; delegated roles cannot be delegated again.

use super::super::model::Role;

/// One role held with the unit it applies to; `delegated_by` is set when it comes from ủy quyền.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub unit_id: Option<i64>,
    pub delegated_by: Option<i64>,
}

/// The authenticated user with the roles in force right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    pub grants: Vec<Grant>,
}

/// Actions that do not depend on a particular document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    RegisterIncoming,
    CreateOutgoing,
    AssignNumber,
    RecallDocument,
    ReadRegisters,
    ManageOrganisation,
    ManageUsers,
    ManageNumberSeries,
    ManageDelegations,
    ReadAudit,
    ReadDirectory,
}

/// What the policy needs to know about a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentScope {
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    pub created_by: Option<i64>,
}

/// Which documents a principal may read, as a filter a query can apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    /// Every document of the agency.
    Agency { agency_id: i64 },
    /// Documents of these units, plus those the user created.
    Units {
        agency_id: i64,
        unit_ids: Vec<i64>,
        user_id: i64,
    },
    /// Nothing.
    Nothing,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Roles the user holds in person (the only ones that may be delegated).
    pub fn own_roles(&self) -> Vec<Role> {
        let mut r: Vec<Role> = self
            .grants
            .iter()
            .filter(|g| g.delegated_by.is_none())
            .map(|g| g.role)
            .collect();
        r.sort();
        r.dedup();
        r
    }

    pub fn can(&self, action: Action) -> bool {
        use Role::*;
        match action {
            Action::RegisterIncoming | Action::AssignNumber => self.has(VanThu),
            Action::RecallDocument => self.has_any(&[VanThu, LanhDao]),
            Action::CreateOutgoing => self.has_any(&[ChuyenVien, TruongDonVi, LanhDao, VanThu]),
            Action::ReadRegisters => self.has_any(&[VanThu, LanhDao, LuuTru]),
            Action::ManageOrganisation | Action::ManageUsers | Action::ManageNumberSeries | Action::ReadAudit => {
                self.has(QuanTri)
            }
            Action::ManageDelegations => self.has_any(&[QuanTri, LanhDao, TruongDonVi]),
            Action::ReadDirectory => !self.grants.is_empty(),
        }
    }

    pub fn read_scope(&self) -> ReadScope {
        use Role::*;
        if self.has_any(&[VanThu, LanhDao, LuuTru]) {
            return ReadScope::Agency {
                agency_id: self.agency_id,
            };
        }
        let mut unit_ids: Vec<i64> = self
            .grants
            .iter()
            .filter(|g| matches!(g.role, TruongDonVi | ChuyenVien))
            .filter_map(|g| g.unit_id)
            .collect();
        unit_ids.sort_unstable();
        unit_ids.dedup();
        if self.has_any(&[TruongDonVi, ChuyenVien]) {
            ReadScope::Units {
                agency_id: self.agency_id,
                unit_ids,
                user_id: self.user_id,
            }
        } else {
            ReadScope::Nothing
        }
    }

    pub fn can_read(&self, doc: &DocumentScope) -> bool {
        match self.read_scope() {
            ReadScope::Agency { agency_id } => doc.agency_id == agency_id,
            ReadScope::Units {
                agency_id,
                unit_ids,
                user_id,
            } => {
                doc.agency_id == agency_id
                    && (doc.created_by == Some(user_id) || doc.unit_id.is_some_and(|u| unit_ids.contains(&u)))
            }
            ReadScope::Nothing => false,
        }
    }

    /// Attaching files and editing metadata: the clerk, or whoever may read it and drafts in it.
    pub fn can_modify(&self, doc: &DocumentScope) -> bool {
        if doc.agency_id != self.agency_id {
            return false;
        }
        self.has(Role::VanThu)
            || (self.can_read(doc) && self.has_any(&[Role::ChuyenVien, Role::TruongDonVi, Role::LanhDao]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[(Role, Option<i64>, Option<i64>)]) -> Principal {
        Principal {
            user_id: 7,
            username: "u".into(),
            display_name: "U".into(),
            agency_id: 1,
            unit_id: Some(10),
            grants: roles
                .iter()
                .map(|(role, unit_id, delegated_by)| Grant {
                    role: *role,
                    unit_id: *unit_id,
                    delegated_by: *delegated_by,
                })
                .collect(),
        }
    }

    fn doc(agency_id: i64, unit_id: Option<i64>, created_by: Option<i64>) -> DocumentScope {
        DocumentScope {
            agency_id,
            unit_id,
            created_by,
        }
    }

    #[test]
    fn clerk_reads_the_whole_agency_and_nothing_outside() {
        let p = principal(&[(Role::VanThu, Some(10), None)]);
        assert!(p.can_read(&doc(1, Some(99), None)));
        assert!(!p.can_read(&doc(2, Some(10), None)));
        assert!(p.can(Action::RegisterIncoming));
        assert!(!p.can(Action::ManageUsers));
    }

    #[test]
    fn specialist_reads_own_unit_and_own_documents_only() {
        let p = principal(&[(Role::ChuyenVien, Some(10), None)]);
        assert!(p.can_read(&doc(1, Some(10), None)));
        assert!(!p.can_read(&doc(1, Some(11), None)));
        assert!(p.can_read(&doc(1, Some(11), Some(7))));
        assert!(!p.can(Action::RegisterIncoming));
        assert!(p.can(Action::CreateOutgoing));
    }

    #[test]
    fn admin_manages_but_does_not_read_documents() {
        let p = principal(&[(Role::QuanTri, None, None)]);
        assert!(p.can(Action::ManageUsers));
        assert!(!p.can_read(&doc(1, None, None)));
        assert_eq!(p.read_scope(), ReadScope::Nothing);
    }

    #[test]
    fn delegated_roles_count_but_cannot_be_delegated_again() {
        let p = principal(&[(Role::ChuyenVien, Some(10), None), (Role::VanThu, Some(20), Some(3))]);
        assert!(p.can(Action::RegisterIncoming));
        assert_eq!(p.own_roles(), vec![Role::ChuyenVien]);
    }

    #[test]
    fn unit_head_delegation_carries_the_delegators_unit() {
        let p = principal(&[
            (Role::ChuyenVien, Some(10), None),
            (Role::TruongDonVi, Some(11), Some(3)),
        ]);
        assert!(p.can_read(&doc(1, Some(11), None)));
        assert!(!p.can_read(&doc(1, Some(12), None)));
    }
}
