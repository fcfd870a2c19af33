//! The console's pages: read the request, ask the service, fill a view.

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use palisade_metastore::SubmissionQuery;
use palisade_model::{FileReport, OutputKind, ScanResult, now_millis};
use palisade_service::{ReportBody, Service, ServiceError};

use super::views::{self, *};
use super::{Https, Viewer, session_cookie};
use crate::ApiError;

/// Rows on a page of the submission list.
const PAGE_ROWS: u32 = 50;

/// What answers instead of the page asked for: a refusal, a failure or the login form
/// (boxed: an error this large would be copied around on every `?`).
pub(crate) struct Detour(Box<Response>);

impl IntoResponse for Detour {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Detour {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

type PageResult = Result<Response, Detour>;

/// A rendered page with `status`.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "console page did not render");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered",
            )
            .into_response()
        }
    }
}

fn ok(page: &impl Template) -> PageResult {
    Ok(render(StatusCode::OK, page))
}

/// A page that says why a request was refused.
pub(super) fn refusal(status: StatusCode, message: &str) -> Detour {
    Detour::from(render(
        status,
        &MessagePage {
            nav: None,
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            message: message.to_string(),
        },
    ))
}

/// A service error as a page with the status the API would give it.
pub(super) fn service_failure(error: ServiceError) -> Detour {
    let error = ApiError::from(error);
    refusal(error.status, &error.message)
}

impl Viewer {
    fn nav(&self, current: &'static str) -> Option<Nav> {
        Some(Nav {
            username: self.session.caller.username.clone(),
            role: self.session.caller.role.clone(),
            csrf: self.session.csrf_token.clone(),
            current,
        })
    }
}

/// `/console`: the submission list (which leads to the login form when no one is logged in).
pub(super) async fn home() -> Redirect {
    Redirect::to("/console/submissions")
}

pub(super) async fn login_form() -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            nav: None,
            error: None,
        },
    )
}

#[derive(serde::Deserialize)]
pub(super) struct Credentials {
    user: String,
    password: String,
}

/// Opens a session and sets its cookie. The login form has no session to carry a token yet, so
/// a cross-site post is refused by its origin instead (forcing someone into another account).
pub(super) async fn login(
    State(service): State<Service>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    https: Option<axum::Extension<Https>>,
    headers: axum::http::HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Response {
    if !super::same_origin(&headers) {
        return refusal(StatusCode::FORBIDDEN, "Cross-site request refused").into_response();
    }
    match service
        .login(&credentials.user, &credentials.password, Some(client.ip()))
        .await
    {
        Ok((session_id, _)) => {
            let secure = https.is_some_and(|axum::Extension(Https(on))| on);
            (
                [(
                    header::SET_COOKIE,
                    session_cookie(Some(&session_id), secure),
                )],
                Redirect::to("/console/submissions"),
            )
                .into_response()
        }
        Err(error @ (ServiceError::BadCredentials | ServiceError::LoginThrottled(_))) => render(
            StatusCode::FORBIDDEN,
            &LoginPage {
                nav: None,
                error: Some(error.to_string()),
            },
        ),
        Err(error) => service_failure(error).into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    State(service): State<Service>,
    viewer: Viewer,
    https: Option<axum::Extension<Https>>,
    Form(form): Form<TokenForm>,
) -> PageResult {
    viewer.check_token(&form.csrf)?;
    service
        .logout(Some(&viewer.session_id))
        .await
        .map_err(service_failure)?;
    let secure = https.is_some_and(|axum::Extension(Https(on))| on);
    Ok((
        [(header::SET_COOKIE, session_cookie(None, secure))],
        Redirect::to("/console/login"),
    )
        .into_response())
}

/// The list, newest first: filters, search and pages keyed on submission order (no counting,
/// so a page costs the same however many files are stored).
pub(super) async fn submissions(
    State(service): State<Service>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult {
    let started = std::time::Instant::now();
    let text = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
    let query = SubmissionQuery {
        result_i: filters.result.trim().parse().ok(),
        blocked: match filters.verdict.as_str() {
            "blocked" => Some(true),
            "allowed" => Some(false),
            _ => None,
        },
        rule: text(&filters.rule),
        file_type: text(&filters.file_type),
        username: text(&filters.user),
        since: parse_form_time(&filters.from),
        until: parse_form_time(&filters.to),
        text: text(&filters.q),
        before: page_key(&filters.before),
        after: page_key(&filters.after),
        limit: PAGE_ROWS,
    };
    let paged = query.before.is_some() || query.after.is_some();
    let found = service
        .submissions(&viewer.session.caller, query)
        .await
        .map_err(service_failure)?;
    let link = |key: &str, row: &palisade_metastore::SubmissionRow| {
        let filters = filters.query_string();
        let joiner = if filters.is_empty() { "" } else { "&" };
        format!(
            "/console/submissions?{filters}{joiner}{key}={}.{}",
            row.upload_ts, row.seq
        )
    };
    let older = (found.len() == PAGE_ROWS as usize)
        .then(|| found.last().map(|row| link("before", row)))
        .flatten();
    let newer = paged
        .then(|| found.first().map(|row| link("after", row)))
        .flatten();
    let rows = found
        .into_iter()
        .map(|row| SubmissionLine {
            uploaded: time_text(row.upload_ts),
            size: size_text(row.size),
            result: row
                .result_i
                .map_or_else(|| "In Progress".to_string(), result_text),
            verdict: match row.blocked {
                Some(true) => "Blocked",
                Some(false) => "Allowed",
                None => "Processing",
            },
            data_id: row.data_id,
            name: row.display_name,
            file_type: row.file_type,
            rule: row.rule,
            user: row.username,
        })
        .collect();
    let settings = service.settings();
    ok(&SubmissionsPage {
        nav: viewer.nav("submissions"),
        results: (0..=255)
            .filter_map(ScanResult::from_code)
            .map(|r| (r.code().to_string(), r.text()))
            .collect(),
        rules: settings.rules.iter().map(|r| r.name.clone()).collect(),
        show_user: !settings.isolate_users || viewer.session.caller.role == "admin",
        filters,
        rows,
        newer,
        older,
        elapsed_ms: format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
    })
}

/// A page key of the submission list, `upload_ts.seq` of the row it follows or precedes.
fn page_key(text: &str) -> Option<(palisade_model::Millis, i64)> {
    let (upload_ts, seq) = text.trim().split_once('.')?;
    Some((upload_ts.parse().ok()?, seq.parse().ok()?))
}

#[derive(serde::Deserialize)]
pub(super) struct PageKeys {
    first: Option<u64>,
    size: Option<u64>,
}

/// Members shown per page of an archive or batch.
const MEMBER_ROWS: u64 = 50;

impl PageKeys {
    /// The first member shown (from 0) and how many (50 unless asked, at most 1,000).
    fn page(&self) -> (u64, u64) {
        (
            self.first.unwrap_or(0),
            self.size.unwrap_or(MEMBER_ROWS).clamp(1, 1000),
        )
    }
}

pub(super) async fn report(
    State(service): State<Service>,
    viewer: Viewer,
    Path(data_id): Path<String>,
    Query(keys): Query<PageKeys>,
) -> PageResult {
    let (first, size) = keys.page();
    let body = service
        .report_body(&viewer.session.caller, &data_id, Some(first), Some(size))
        .await
        .map_err(service_failure)?
        .ok_or_else(|| refusal(StatusCode::NOT_FOUND, "No file with this data id"))?;
    let report = match body {
        ReportBody::Built(report) => *report,
        ReportBody::Stored(text) => serde_json::from_str::<FileReport>(&text)
            .map_err(|e| service_failure(ServiceError::Internal(format!("stored report: {e}"))))?,
    };
    let outputs = service
        .live_outputs(&report.data_id)
        .await
        .map_err(service_failure)?;
    let record = service
        .metastore()
        .job(&report.data_id)
        .await
        .map_err(|e| service_failure(e.into()))?;
    let in_progress = record.as_ref().is_some_and(|r| !r.state.is_final());
    let parent = record.and_then(|r| r.job.parent_id);
    let page = report_page(viewer.nav("submissions"), report, &outputs, first, size);
    ok(&ReportPage {
        parent,
        can_cancel: in_progress,
        in_progress,
        ..page
    })
}

/// The report page of `report`, members from `first` (`size` of them).
fn report_page(
    nav: Option<Nav>,
    report: FileReport,
    outputs: &[palisade_model::OutputRecord],
    first: u64,
    size: u64,
) -> ReportPage {
    let info = &report.file_info;
    let process = &report.process_info;
    let mut facts = vec![
        ("Data id", report.data_id.clone()),
        ("Size", size_text(info.file_size)),
        (
            "File type",
            format!("{} ({})", info.file_type_description, info.file_type),
        ),
        ("MD5", info.md5.clone()),
        ("SHA-1", info.sha1.clone()),
        ("SHA-256", info.sha256.clone()),
        ("Uploaded", info.upload_timestamp.clone()),
        ("Rule", process.profile.clone()),
        ("User", process.username.clone()),
        ("Processing time", format!("{} ms", process.processing_time)),
        ("Progress", format!("{} %", process.progress_percentage)),
    ];
    if !report.batch_id.is_empty() {
        facts.push(("Batch", report.batch_id.clone()));
    }
    let engines = report
        .scan_results
        .scan_details
        .iter()
        .map(|(name, detail)| EngineLine {
            name: name.clone(),
            result: result_text(detail.scan_result_i),
            threat: detail.threat_found.clone(),
            definitions: detail.def_time.clone(),
            time_ms: detail.scan_time,
        })
        .collect();
    let base = format!("/console/files/{}", report.data_id);
    let members = report.extracted_files.as_ref().map(|files| {
        let rows = files
            .files_in_archive
            .iter()
            .map(|member| MemberLine {
                data_id: member.data_id.clone(),
                name: member.display_name.clone(),
                file_type: member.file_type.clone(),
                size: size_text(member.file_size),
                result: member.scan_all_result_a.clone(),
            })
            .collect();
        MemberPage::new(&base, files.files_extracted_count, first, size, rows)
    });
    let cdr = process
        .post_processing
        .sanitization_details
        .as_ref()
        .map(cdr_view);
    let dlp = report.dlp_info.as_ref().map(dlp_view);
    let downloads = outputs
        .iter()
        .map(|output| match output.kind {
            OutputKind::Sanitized => (
                "Sanitized copy",
                format!("/file/converted/{}", report.data_id),
            ),
            OutputKind::Redacted => (
                "Redacted copy",
                format!("/file/download/{}", report.data_id),
            ),
        })
        .collect();
    let raw_json = serde_json::to_string_pretty(&report).unwrap_or_default();
    ReportPage {
        nav,
        name: report.file_info.display_name.clone(),
        verdict: views::verdict(report.process_info.result),
        result: report.scan_results.scan_all_result_a.clone(),
        blocked_reasons: report.process_info.blocked_reasons.clone(),
        data_id: report.data_id.clone(),
        facts,
        engines,
        members,
        cdr,
        dlp,
        downloads,
        parent: None,
        can_cancel: false,
        in_progress: false,
        raw_json,
    }
}

fn json_text(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn cdr_view(details: &palisade_model::SanitizationDetails) -> CdrView {
    CdrView {
        result: json_text(&details.result),
        verdict: json_text(&details.verdict),
        description: details.description.clone(),
        failure: details
            .failure_category
            .as_ref()
            .map(json_text)
            .unwrap_or_default(),
        details: details
            .details
            .iter()
            .map(|object| {
                (
                    json_text(&object.action),
                    object.object_name.clone(),
                    object.count,
                )
            })
            .collect(),
    }
}

fn dlp_view(info: &palisade_model::DlpInfo) -> DlpView {
    DlpView {
        verdict: json_text(&info.verdict),
        severity: info.severity,
        redact: json_text(&info.redact.result),
        hits: info
            .hits
            .values()
            .flat_map(|kind| {
                kind.hits.iter().map(|hit| {
                    (
                        kind.display_name.clone(),
                        hit.hit.clone(),
                        hit.location.clone(),
                        json_text(&hit.certainty),
                    )
                })
            })
            .collect(),
        errors: info
            .errors
            .iter()
            .map(|(what, why)| format!("{what}: {why}"))
            .collect(),
    }
}

pub(super) async fn cancel(
    State(service): State<Service>,
    viewer: Viewer,
    Path(data_id): Path<String>,
    Form(form): Form<TokenForm>,
) -> PageResult {
    let back = format!("/console/files/{}", views::encode(&data_id));
    let caller = &viewer.session.caller;
    act(&viewer, &form, service.cancel(caller, &data_id), back).await
}

/// A form's action: its token checked, then `action` (which has not run yet: a future runs
/// when awaited), then back to the page `back`.
async fn act<T>(
    viewer: &Viewer,
    form: &TokenForm,
    action: impl std::future::Future<Output = Result<T, ServiceError>>,
    back: String,
) -> PageResult {
    viewer.check_token(&form.csrf)?;
    action.await.map_err(service_failure)?;
    Ok(Redirect::to(&back).into_response())
}

pub(super) async fn upload(State(service): State<Service>, viewer: Viewer) -> PageResult {
    let rules = service
        .rules_for(&viewer.session.caller, "")
        .into_iter()
        .map(|rule| rule.name.clone())
        .collect();
    ok(&UploadPage {
        nav: viewer.nav("upload"),
        rules,
    })
}

/// Batches shown on the batches page.
const BATCH_ROWS: u32 = 100;

pub(super) async fn batches(State(service): State<Service>, viewer: Viewer) -> PageResult {
    let found = service
        .recent_batches(&viewer.session.caller, BATCH_ROWS)
        .await
        .map_err(service_failure)?;
    let rows = found
        .into_iter()
        .map(|batch| BatchLine {
            created: time_text(batch.created_ts),
            state: match (batch.cancelled, batch.closed_ts) {
                (true, _) => "Cancelled",
                (false, Some(_)) => "Closed",
                (false, None) => "Open",
            },
            batch_id: batch.batch_id,
            user: batch.username,
            rule: batch.rule,
        })
        .collect();
    ok(&BatchesPage {
        nav: viewer.nav("batches"),
        rows,
    })
}

pub(super) async fn batch(
    State(service): State<Service>,
    viewer: Viewer,
    Path(batch_id): Path<String>,
    Query(keys): Query<PageKeys>,
) -> PageResult {
    let (first, size) = keys.page();
    let report = service
        .batch_status(&viewer.session.caller, &batch_id, Some(first), Some(size))
        .await
        .map_err(service_failure)?;
    let rows = report
        .batch_files
        .files_in_batch
        .iter()
        .map(|file| MemberLine {
            data_id: file.data_id.clone(),
            name: file.display_name.clone(),
            file_type: file.file_type.clone(),
            size: size_text(file.file_size),
            result: file.scan_all_result_a.clone(),
        })
        .collect();
    let base = format!("/console/batches/{}", report.batch_id);
    let finished = report.process_info.progress_percentage == 100;
    ok(&BatchPage {
        nav: viewer.nav("batches"),
        members: MemberPage::new(&base, report.batch_files.batch_count, first, size, rows),
        user: report.process_info.username.clone(),
        user_data: report.user_data.clone(),
        closed: report.is_closed,
        verdict: views::verdict(report.process_info.result),
        result: report.scan_results.scan_all_result_a.clone(),
        progress: report.process_info.progress_percentage,
        certificate: report.is_closed && finished,
        batch_id: report.batch_id,
    })
}

pub(super) async fn close_batch(
    State(service): State<Service>,
    viewer: Viewer,
    Path(batch_id): Path<String>,
    Form(form): Form<TokenForm>,
) -> PageResult {
    let back = format!("/console/batches/{}", views::encode(&batch_id));
    let caller = &viewer.session.caller;
    act(&viewer, &form, service.close_batch(caller, &batch_id), back).await
}

pub(super) async fn cancel_batch(
    State(service): State<Service>,
    viewer: Viewer,
    Path(batch_id): Path<String>,
    Form(form): Form<TokenForm>,
) -> PageResult {
    let back = format!("/console/batches/{}", views::encode(&batch_id));
    let caller = &viewer.session.caller;
    act(
        &viewer,
        &form,
        service.cancel_batch(caller, &batch_id),
        back,
    )
    .await
}

pub(super) async fn engines(State(service): State<Service>, viewer: Viewer) -> PageResult {
    let now = now_millis();
    let rows = service
        .engine_stats()
        .await
        .map_err(service_failure)?
        .into_iter()
        .map(|engine| EngineRow {
            age: palisade_model::parse_timestamp(&engine.def_time)
                .map(|then| age_text(now, then))
                .unwrap_or_default(),
            state: json_text(&engine.state),
            nodes: engine
                .nodes
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|node| format!("{}: {}", node.node_id, json_text(&node.state)))
                .collect::<Vec<_>>()
                .join(", "),
            id: engine.eng_id,
            name: engine.eng_name,
            kind: engine.eng_type,
            version: engine.eng_ver,
            definitions: engine.def_time,
            problems: engine.problems,
        })
        .collect();
    ok(&EnginesPage {
        nav: viewer.nav("engines"),
        rows,
    })
}

pub(super) async fn cluster(State(service): State<Service>, viewer: Viewer) -> PageResult {
    let now = now_millis();
    let queue = service
        .metastore()
        .queue_state()
        .await
        .map_err(|e| service_failure(e.into()))?;
    let rows = service
        .node_stats()
        .await
        .map_err(service_failure)?
        .into_iter()
        .map(|node| NodeRow {
            engines: node
                .engines
                .iter()
                .map(|engine| format!("{} ({})", engine.eng_id, json_text(&engine.state)))
                .collect::<Vec<_>>()
                .join(", "),
            id: node.node_id,
            role: node.role,
            host: node.hostname,
            version: node.version,
            online: node.online,
            workers: node.workers,
            running: node.running,
            started: node.started,
            last_seen: node.last_seen,
        })
        .collect();
    ok(&ClusterPage {
        nav: viewer.nav("cluster"),
        queue_depth: queue.depth,
        oldest: queue
            .oldest_upload
            .map(|then| age_text(now, then))
            .unwrap_or_else(|| "nothing queued".into()),
        rows,
    })
}
