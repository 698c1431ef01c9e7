//! `hotline.v1.AdminService`: the admin catalog's standard methods (list,
//! get, create, update with a field mask, delete) for every kind, and the
//! audit. Proto in, [`crate::app::admin`] does the work, proto out.

mod convert;

use tonic::{Request, Response, Status};

use crate::app::admin::etag;
use crate::app::catalog_document::{Format, MAX_DOCUMENT_BYTES};
use crate::app::App;
use crate::auth::principal;
use crate::error::Error;
use crate::proto;
use crate::proto::admin_service_server::AdminService;
use crate::status::status;
use convert::*;

pub struct AdminApi {
    pub app: App,
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, Status> {
    value.ok_or_else(|| status(Error::invalid(field, "is required")))
}

/// The service: the five standard methods of each kind, then `$rest`. `$T` is the domain type, `$P`
/// the proto message, `$field` the request field holding it, `$id` its id
/// field, `$in` and `$out` the conversions.
macro_rules! admin_service {
    ($({$T:ty, $P:ident, $field:ident, $id:ident, $in:expr, $out:path,
     $list:ident, $ListResp:ident, $items:ident,
     $get:ident, $create:ident, $CreateReq:ident, $update:ident, $UpdateReq:ident, $delete:ident})*
     methods: $($rest:tt)*) => {
        #[tonic::async_trait]
        impl AdminService for AdminApi {
        $(
        async fn $list(&self, req: Request<proto::ListRequest>) -> Result<Response<proto::$ListResp>, Status> {
            let p = principal(&req).map_err(status)?;
            let r = req.into_inner();
            let page = self
                .app
                .list_objects::<$T>(&p, r.page_size, &r.page_token, &r.filter)
                .map_err(status)?;
            Ok(Response::new(proto::$ListResp {
                $items: page.items.iter().map($out).collect(),
                next_page_token: page.next_page_token,
                total_size: u32::try_from(page.total_size).unwrap_or(u32::MAX),
            }))
        }

        async fn $get(&self, req: Request<proto::GetRequest>) -> Result<Response<proto::$P>, Status> {
            let p = principal(&req).map_err(status)?;
            let v = self.app.get_object::<$T>(&p, &req.get_ref().id).await.map_err(status)?;
            Ok(Response::new($out(&v)))
        }

        async fn $create(&self, req: Request<proto::$CreateReq>) -> Result<Response<proto::$P>, Status> {
            let p = principal(&req).map_err(status)?;
            let object = required(stringify!($field), req.into_inner().$field)?;
            let blank = proto::$P {
                $id: object.$id.clone(),
                ..Default::default()
            };
            let conv = $in;
            let (patch, blank) = (conv(object).map_err(status)?, conv(blank).map_err(status)?);
            let v = self.app.create_object(&p, patch, blank).await.map_err(status)?;
            Ok(Response::new($out(&v)))
        }

        async fn $update(&self, req: Request<proto::$UpdateReq>) -> Result<Response<proto::$P>, Status> {
            let p = principal(&req).map_err(status)?;
            let r = req.into_inner();
            let object = required(stringify!($field), r.$field)?;
            let tag = etag("etag", &object.etag).map_err(status)?;
            let mask = r.update_mask.map(|m| m.paths).unwrap_or_default();
            let blank = proto::$P {
                $id: object.$id.clone(),
                ..Default::default()
            };
            let conv = $in;
            let (patch, blank) = (conv(object).map_err(status)?, conv(blank).map_err(status)?);
            let v = self.app.update_object(&p, patch, blank, &mask, tag).await.map_err(status)?;
            Ok(Response::new($out(&v)))
        }

        async fn $delete(&self, req: Request<proto::DeleteRequest>) -> Result<Response<proto::DeleteResponse>, Status> {
            let p = principal(&req).map_err(status)?;
            let r = req.into_inner();
            let tag = etag("etag", &r.etag).map_err(status)?;
            self.app.delete_object::<$T>(&p, &r.id, tag).await.map_err(status)?;
            Ok(Response::new(proto::DeleteResponse {}))
        }
        )*
        $($rest)*
        }
    };
}

/// Export stream chunks (under gRPC's 4 MiB message limit).
const CHUNK_BYTES: usize = 1024 * 1024;

fn document_format(f: i32) -> Result<Format, Error> {
    match proto::DocumentFormat::try_from(f) {
        Ok(proto::DocumentFormat::JsonLines) => Ok(Format::JsonLines),
        Ok(proto::DocumentFormat::CustomersCsv) => Ok(Format::CustomersCsv),
        _ => Err(Error::invalid("format", "must be JSON_LINES or CUSTOMERS_CSV")),
    }
}

fn ok<T>(v: T) -> Result<T, Error> {
    Ok(v)
}

admin_service! {
    {
        hotline_core::catalog::Skill, Skill, skill, name, |s| ok(skill_in(s)), skill_out,
        list_skills, ListSkillsResponse, skills,
        get_skill, create_skill, CreateSkillRequest, update_skill, UpdateSkillRequest, delete_skill
    }
    {
        hotline_core::catalog::AgentProfile, AgentProfile, agent, id, agent_in, agent_out,
        list_agent_profiles, ListAgentProfilesResponse, agents,
        get_agent_profile, create_agent_profile, CreateAgentProfileRequest,
        update_agent_profile, UpdateAgentProfileRequest, delete_agent_profile
    }
    {
        hotline_core::catalog::HoursCalendar, Calendar, calendar, id, calendar_in, calendar_out,
        list_calendars, ListCalendarsResponse, calendars,
        get_calendar, create_calendar, CreateCalendarRequest, update_calendar, UpdateCalendarRequest,
        delete_calendar
    }
    {
        hotline_core::acd::QueueSettings, Queue, queue, name, queue_in, queue_out,
        list_queues, ListQueuesResponse, queues,
        get_queue, create_queue, CreateQueueRequest, update_queue, UpdateQueueRequest, delete_queue
    }
    {
        hotline_core::catalog::EntryPoint, EntryPoint, entry_point, number, |e| ok(entry_point_in(e)),
        entry_point_out,
        list_entry_points, ListEntryPointsResponse, entry_points,
        get_entry_point, create_entry_point, CreateEntryPointRequest,
        update_entry_point, UpdateEntryPointRequest, delete_entry_point
    }
    {
        hotline_core::catalog::KeypadMenu, KeypadMenu, keypad_menu, number, keypad_menu_in,
        keypad_menu_out,
        list_keypad_menus, ListKeypadMenusResponse, keypad_menus,
        get_keypad_menu, create_keypad_menu, CreateKeypadMenuRequest,
        update_keypad_menu, UpdateKeypadMenuRequest, delete_keypad_menu
    }
    {
        hotline_core::catalog::ReasonCode, ReasonCode, reason_code, code, |r| ok(reason_code_in(r)),
        reason_code_out,
        list_reason_codes, ListReasonCodesResponse, reason_codes,
        get_reason_code, create_reason_code, CreateReasonCodeRequest,
        update_reason_code, UpdateReasonCodeRequest, delete_reason_code
    }
    {
        hotline_core::catalog::WrapUpCategory, WrapUpCategory, wrap_up_category, code,
        |c| ok(category_in(c)), category_out,
        list_wrap_up_categories, ListWrapUpCategoriesResponse, wrap_up_categories,
        get_wrap_up_category, create_wrap_up_category, CreateWrapUpCategoryRequest,
        update_wrap_up_category, UpdateWrapUpCategoryRequest, delete_wrap_up_category
    }
    {
        hotline_core::catalog::Customer, Customer, customer, id, customer_in, customer_out,
        list_customers, ListCustomersResponse, customers,
        get_customer, create_customer, CreateCustomerRequest, update_customer, UpdateCustomerRequest,
        delete_customer
    }

    methods:
    type ExportCatalogStream = crate::api::Polled<proto::DocumentChunk>;

    async fn export_catalog(
        &self,
        req: Request<proto::ExportCatalogRequest>,
    ) -> Result<Response<Self::ExportCatalogStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let format = document_format(req.get_ref().format).map_err(status)?;
        let document = self.app.export_catalog(&p, format).map_err(status)?;
        let chunks: Vec<Result<proto::DocumentChunk, Status>> = document
            .chunks(CHUNK_BYTES)
            .map(|c| Ok(proto::DocumentChunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn import_catalog(
        &self,
        req: Request<tonic::Streaming<proto::ImportChunk>>,
    ) -> Result<Response<proto::ImportSummary>, Status> {
        let p = principal(&req).map_err(status)?;
        let mut chunks = req.into_inner();
        let mut format = None;
        let mut document = Vec::new();
        while let Some(chunk) = chunks.message().await? {
            if format.is_none() {
                format = Some(document_format(chunk.format).map_err(status)?);
            }
            if document.len() + chunk.data.len() > MAX_DOCUMENT_BYTES {
                return Err(status(Error::invalid(
                    "data",
                    format!("at most {MAX_DOCUMENT_BYTES} bytes"),
                )));
            }
            document.extend_from_slice(&chunk.data);
        }
        let format = format.ok_or_else(|| status(Error::invalid("data", "no document was sent")))?;
        let s = self.app.import_catalog(&p, format, &document).await.map_err(status)?;
        Ok(Response::new(summary_out(&s)))
    }

    async fn upload_catalog(
        &self,
        req: Request<proto::UploadCatalogRequest>,
    ) -> Result<Response<proto::ImportSummary>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let format = document_format(r.format).map_err(status)?;
        let s = self.app.import_catalog(&p, format, &r.data).await.map_err(status)?;
        Ok(Response::new(summary_out(&s)))
    }

    async fn list_audit_entries(
        &self,
        req: Request<proto::ListAuditEntriesRequest>,
    ) -> Result<Response<proto::ListAuditEntriesResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let (records, next_page_token) = self
            .app
            .audit(&p, &r.kind, &r.id, r.page_size, &r.page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::ListAuditEntriesResponse {
            entries: records.iter().map(audit_out).collect(),
            next_page_token,
        }))
    }
}
