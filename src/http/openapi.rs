//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::routes;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "vanthu API", description = "Document registry, accounts and registers of the vanthu document-management server."),
    modifiers(&Bearer),
    paths(
        routes::system::healthz,
        routes::system::readyz,
        routes::system::metrics,
        routes::auth::login,
        routes::auth::logout,
        routes::auth::me,
        routes::auth::change_password,
        routes::org::list_agencies,
        routes::org::get_agency,
        routes::org::create_agency,
        routes::org::list_units,
        routes::org::create_unit,
        routes::org::list_users,
        routes::org::get_user,
        routes::org::create_user,
        routes::org::lock_user,
        routes::org::unlock_user,
        routes::org::list_delegations,
        routes::org::create_delegation,
        routes::org::revoke_delegation,
        routes::catalog::document_types,
        routes::catalog::list_series,
        routes::catalog::create_series,
        routes::documents::create,
        routes::documents::get_one,
        routes::documents::list,
        routes::documents::assign_number,
        routes::documents::recall,
        routes::documents::upload,
        routes::documents::list_files,
        routes::documents::download,
        routes::registers::register,
        routes::audit::list,
        routes::audit::verify,
        routes::archive::get_document,
        routes::archive::metadata_xml,
        routes::records::retention_periods,
        routes::records::list,
        routes::records::create,
        routes::records::get_one,
        routes::records::open,
        routes::records::file_document,
        routes::records::close,
        routes::records::set_hold,
        routes::records::release_hold,
        routes::records::superseded,
        routes::records::dispose,
        routes::search::search_documents,
    ),
    components(schemas(crate::http::error::ErrorBody))
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
