//! A strict schema of the incumbent's published shapes, checked the way generated SDKs parse
//! them: every required member present with its type (a `null` is not a string), every enum
//! value one of the published ones. Extra members are allowed, as typed parsers ignore them.
//!
//! Field lists and enums come from the API document (`metadefender-cluster-api.txt`) and the
//! vendor's published OpenAPI document for `/stat/engines`, as generated SDKs encode it.

use serde_json::Value;

pub enum Schema {
    Str,
    Int,
    Number,
    Bool,
    StrEnum(&'static [&'static str]),
    IntEnum(&'static [i64]),
    Array(Box<Schema>),
    /// An object with keys of the client's choosing (`scan_details`), each value of this schema.
    Map(Box<Schema>),
    Object(Vec<Field>),
}

pub struct Field {
    name: &'static str,
    schema: Schema,
    required: bool,
}

fn req(name: &'static str, schema: Schema) -> Field {
    Field {
        name,
        schema,
        required: true,
    }
}

fn opt(name: &'static str, schema: Schema) -> Field {
    Field {
        name,
        schema,
        required: false,
    }
}

fn array(schema: Schema) -> Schema {
    Schema::Array(Box::new(schema))
}

/// The violations of `schema` in `value`, each with its JSON path.
pub fn violations(value: &Value, schema: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, schema, "$", &mut found);
    found
}

/// Panics with every violation (and the document) unless `value` fits `schema`.
pub fn assert_fits(value: &Value, schema: &Schema, what: &str) {
    let found = violations(value, schema);
    assert!(
        found.is_empty(),
        "{what} breaks the schema: {found:#?}\n{value}"
    );
}

fn walk(value: &Value, schema: &Schema, path: &str, found: &mut Vec<String>) {
    let mut fail = |why: String| found.push(format!("{path}: {why}"));
    match schema {
        Schema::Str if !value.is_string() => fail(format!("expected a string, got {value}")),
        Schema::Int if !(value.is_i64() || value.is_u64()) => {
            fail(format!("expected an integer, got {value}"))
        }
        Schema::Number if !value.is_number() => fail(format!("expected a number, got {value}")),
        Schema::Bool if !value.is_boolean() => fail(format!("expected a boolean, got {value}")),
        Schema::StrEnum(allowed) => match value.as_str() {
            Some(text) if allowed.contains(&text) => {}
            _ => fail(format!("{value} is not one of {allowed:?}")),
        },
        Schema::IntEnum(allowed) => match value.as_i64() {
            Some(code) if allowed.contains(&code) => {}
            _ => fail(format!("{value} is not one of the published codes")),
        },
        Schema::Array(item) => match value.as_array() {
            Some(items) => {
                for (index, entry) in items.iter().enumerate() {
                    walk(entry, item, &format!("{path}[{index}]"), found);
                }
            }
            None => fail(format!("expected an array, got {value}")),
        },
        Schema::Map(item) => match value.as_object() {
            Some(map) => {
                for (key, entry) in map {
                    walk(entry, item, &format!("{path}.{key}"), found);
                }
            }
            None => fail(format!("expected an object, got {value}")),
        },
        Schema::Object(fields) => match value.as_object() {
            Some(map) => {
                for field in fields {
                    let here = format!("{path}.{}", field.name);
                    match map.get(field.name) {
                        Some(member) => walk(member, &field.schema, &here, found),
                        None if field.required => found.push(format!("{here}: missing")),
                        None => {}
                    }
                }
            }
            None => fail(format!("expected an object, got {value}")),
        },
        _ => {}
    }
}

/// `scan_all_result_a`: the document's enum.
const RESULT_TEXTS: &[&str] = &[
    "No Threat Detected",
    "Infected",
    "Suspicious",
    "Failed",
    "Whitelisted",
    "Blacklisted",
    "Exceeded Archive Depth",
    "Not Scanned",
    "Encrypted Archive",
    "Exceeded Archive Size",
    "Exceeded Archive File Number",
    "Password Protected Document",
    "Exceeded Archive Timeout",
    "Mismatch",
    "Potentially Vulnerable File",
    "Cancelled",
    "Sensitive Data Found",
    "Yara Rule Matched",
    "Potentially Unwanted",
    "Unsupported File Type",
    "Extraction Failed",
    "Scan Failed",
    "Suspicious Verdict by Sandbox",
    "Likely Malicious Verdict by Sandbox",
    "Malicious Verdict by Sandbox",
    "Blocked Verdict by Sandbox",
    "Blocked Verdict by Deep CDR",
    "Global Timeout Exceeded",
    "Vulnerable Verdict by SBOM",
    "Non-vulnerable Verdict by SBOM",
    "Blocked Verdict by SBOM",
    "Blocked by Post Action",
    "Known Bad",
    "Known Good",
    "Unknown",
    "Allowed Verdict by COO",
    "Blocked Verdict by COO",
    "Unknown Verdict by COO",
    "In Progress",
    "Skip Processing Fast Symlink",
];

/// `scan_all_result_i`: the document's enum.
const RESULT_CODES: &[i64] = &[
    0, 1, 2, 3, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
    29, 30, 31, 32, 33, 34, 36, 38, 39, 40, 41, 42, 43, 255, 1014,
];

const PROCESS_RESULTS: &[&str] = &["Allowed", "Blocked", "Processing"];

fn result_text() -> Schema {
    Schema::StrEnum(RESULT_TEXTS)
}

fn result_code() -> Schema {
    Schema::IntEnum(RESULT_CODES)
}

fn post_processing() -> Schema {
    Schema::Object(vec![
        req("actions_failed", Schema::Str),
        req("actions_ran", Schema::Str),
        req("converted_destination", Schema::Str),
        req("converted_to", Schema::Str),
        req("copy_move_destination", Schema::Str),
    ])
}

const CERTAINTIES: &[&str] = &["Very Low", "Low", "Medium", "High", "Very High"];

/// `dlp_info`, as the API document gives it.
fn dlp_info() -> Schema {
    let outcome = |values: &'static [&'static str]| {
        Schema::Object(vec![req("result", Schema::StrEnum(values))])
    };
    let hit = Schema::Object(vec![
        req("after", Schema::Str),
        req("before", Schema::Str),
        req("certainty", Schema::StrEnum(CERTAINTIES)),
        req("certainty_score", Schema::Int),
        req("hit", Schema::Str),
        req("location", Schema::Str),
        req("severity", Schema::IntEnum(&[0, 1])),
        req("tryRedact", Schema::Bool),
    ]);
    Schema::Object(vec![
        opt("certainty", Schema::StrEnum(CERTAINTIES)),
        req("errors", Schema::Map(Box::new(Schema::Str))),
        req("filename", Schema::Str),
        req(
            "hits",
            Schema::Map(Box::new(Schema::Object(vec![
                req("display_name", Schema::Str),
                req("hits", array(hit)),
            ]))),
        ),
        req(
            "metadata_removal",
            outcome(&["removed", "not removed", "failed to remove"]),
        ),
        req(
            "redact",
            outcome(&["redacted", "not redacted", "failed to redact"]),
        ),
        req("severity", Schema::IntEnum(&[0, 1])),
        req("verdict", Schema::IntEnum(&[0, 1, 2, 3, 4])),
        req(
            "watermark",
            outcome(&["added", "not added", "failed to add"]),
        ),
    ])
}

/// `GET /file/{data_id}`. `post_processing` is required in every report: typed middleware
/// indexes it whether or not the file is final.
pub fn file_report() -> Schema {
    let timing = [
        "av_scan_time",
        "cdr_time",
        "dlp_time",
        "extraction_time",
        "filetype_time",
        "opswatfilescan_time",
        "others_time",
        "parse_dgsg_time",
        "vul_time",
        "yara_time",
    ]
    .into_iter()
    .map(|name| req(name, Schema::Int))
    .collect();
    Schema::Object(vec![
        req("data_id", Schema::Str),
        req(
            "file_info",
            Schema::Object(vec![
                req("display_name", Schema::Str),
                req("file_size", Schema::Int),
                req("file_type", Schema::Str),
                req("file_type_description", Schema::Str),
                req("md5", Schema::Str),
                req("sha1", Schema::Str),
                req("sha256", Schema::Str),
                req("sha512", Schema::Str),
                req("type_category", array(Schema::Str)),
                req("upload_timestamp", Schema::Str),
                opt("receive_data_timestamp", Schema::Str),
                opt("upload_time", Schema::Int),
            ]),
        ),
        req(
            "process_info",
            Schema::Object(vec![
                req("blocked_reason", Schema::Str),
                req("blocked_reasons", array(Schema::Str)),
                req("file_type_skipped_scan", Schema::Bool),
                opt("hash_time", Schema::Int),
                opt("outdated_data", array(Schema::Str)),
                req("processing_time", Schema::Int),
                opt("processing_time_details", Schema::Object(timing)),
                req("profile", Schema::Str),
                req("progress_percentage", Schema::Int),
                req("queue_time", Schema::Int),
                req("result", Schema::StrEnum(PROCESS_RESULTS)),
                req("user_agent", Schema::Str),
                opt("username", Schema::Str),
                req("verdicts", array(Schema::Str)),
                req("post_processing", post_processing()),
            ]),
        ),
        req(
            "scan_results",
            Schema::Object(vec![
                req("data_id", Schema::Str),
                req("progress_percentage", Schema::Int),
                req("scan_all_result_a", result_text()),
                req("scan_all_result_i", result_code()),
                req("start_time", Schema::Str),
                req("total_avs", Schema::Int),
                req("total_time", Schema::Int),
                req(
                    "scan_details",
                    Schema::Map(Box::new(Schema::Object(vec![
                        req("def_time", Schema::Str),
                        opt("eng_id", Schema::Str),
                        opt("location", Schema::Str),
                        req("scan_result_i", result_code()),
                        req("scan_time", Schema::Int),
                        req("threat_found", Schema::Str),
                        opt("wait_time", Schema::Int),
                    ]))),
                ),
            ]),
        ),
        opt("dlp_info", dlp_info()),
        opt(
            "extraction_info",
            Schema::Object(vec![
                req("is_encrypted_file", Schema::Bool),
                opt("decrypted_status", Schema::Str),
                opt("err_category", Schema::Str),
                opt("err_code", Schema::Int),
                opt("err_details", Schema::Str),
            ]),
        ),
        opt(
            "extracted_files",
            Schema::Object(vec![
                req("files_extracted_count", Schema::Int),
                req(
                    "files_in_archive",
                    array(Schema::Object(vec![
                        req("data_id", Schema::Str),
                        req("detected_by", Schema::Int),
                        req("display_name", Schema::Str),
                        req("file_size", Schema::Int),
                        req("file_type", Schema::Str),
                        req("file_type_description", Schema::Str),
                        req("progress_percentage", Schema::Int),
                        req("scan_all_result_i", result_code()),
                        req("scanned_with", Schema::Int),
                    ])),
                ),
                req("first_index", Schema::Int),
                req("page_size", Schema::Int),
                req("worst_data_id", Schema::Str),
            ]),
        ),
    ])
}

/// `GET /stat/engines`: the published OpenAPI document's enums, plus the C++ SDK's `type`.
pub fn engines() -> Schema {
    array(Schema::Object(vec![
        req("active", Schema::Bool),
        req("def_time", Schema::Str),
        req("download_progress", Schema::Number),
        req("download_time", Schema::Str),
        req("eng_id", Schema::Str),
        req("eng_name", Schema::Str),
        req("eng_type", Schema::Str),
        req("eng_ver", Schema::Str),
        req(
            "engine_type",
            Schema::StrEnum(&["av", "archive", "filetype"]),
        ),
        req(
            "state",
            Schema::StrEnum(&[
                "downloading",
                "downloaded",
                "staging",
                "production",
                "removed",
                "temporary failed",
                "permanently failed",
                "content invalid",
                "download failed",
            ]),
        ),
        req("type", Schema::StrEnum(&["engine"])),
    ]))
}

/// `GET /file/batch/{id}` and `POST /file/batch/{id}/close` (BatchResponse).
pub fn batch() -> Schema {
    Schema::Object(vec![
        req("batch_id", Schema::Str),
        req("is_closed", Schema::Bool),
        req("user_data", Schema::Str),
        req(
            "batch_files",
            Schema::Object(vec![
                req("batch_count", Schema::Int),
                req("first_index", Schema::Int),
                req("page_size", Schema::Int),
                req(
                    "files_in_batch",
                    array(Schema::Object(vec![
                        req("data_id", Schema::Str),
                        req("detected_by", Schema::Int),
                        req("display_name", Schema::Str),
                        req("file_size", Schema::Int),
                        req("file_type", Schema::Str),
                        req("file_type_description", Schema::Str),
                        req(
                            "process_info",
                            Schema::Object(vec![
                                req("blocked_reason", Schema::Str),
                                req("progress_percentage", Schema::Int),
                                req("result", Schema::StrEnum(PROCESS_RESULTS)),
                                req("verdicts", array(Schema::Str)),
                            ]),
                        ),
                        req("progress_percentage", Schema::Int),
                        req("scan_all_result_a", result_text()),
                        req("scan_all_result_i", result_code()),
                        req("scanned_with", Schema::Int),
                    ])),
                ),
            ]),
        ),
        req(
            "process_info",
            Schema::Object(vec![
                req("blocked_reason", Schema::Str),
                req("file_type_skipped_scan", Schema::Bool),
                req("profile", Schema::Str),
                req("result", Schema::StrEnum(PROCESS_RESULTS)),
                req("user_agent", Schema::Str),
                req("username", Schema::Str),
            ]),
        ),
        req(
            "scan_results",
            Schema::Object(vec![
                req("batch_id", Schema::Str),
                req("scan_all_result_a", result_text()),
                req("scan_all_result_i", result_code()),
                req("start_time", Schema::Str),
                req("total_avs", Schema::Int),
                req("total_time", Schema::Int),
            ]),
        ),
    ])
}

#[test]
fn the_schema_catches_what_typed_clients_reject() {
    use serde_json::json;
    let good = json!([{
        "active": true, "def_time": "", "download_progress": 100, "download_time": "",
        "eng_id": "x", "eng_name": "X", "eng_type": "yara", "eng_ver": "1",
        "engine_type": "av", "state": "production", "type": "engine"
    }]);
    assert!(violations(&good, &engines()).is_empty());
    let mut bad = good.clone();
    bad[0]["engine_type"] = json!("yara");
    bad[0]["state"] = json!("failed");
    bad[0].as_object_mut().unwrap().remove("type");
    bad[0]["eng_ver"] = Value::Null;
    let found = violations(&bad, &engines());
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().any(|v| v.contains("$[0].type: missing")));
}
