//! The web console: in a real browser (Debian's headless Chromium driven by Selenium) from login
//! to logout, and its session cookie, CSRF and role rules seen over plain HTTP.

use std::path::Path;

use palisade_test_support::{Clamd, console, svg};

use crate::support::{ADMIN_PASSWORD, Server, eicar};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A zip of `m0000.txt`…`m0999.txt` in that order, made by Info-ZIP's `zip`.
fn thousand_member_zip(dir: &Path) -> std::path::PathBuf {
    let members = dir.join("members");
    std::fs::create_dir(&members).unwrap();
    let names: Vec<String> = (0..1000).map(|i| format!("m{i:04}.txt")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(members.join(name), format!("member {i}")).unwrap();
    }
    let zip = dir.join("many.zip");
    let status = std::process::Command::new("zip")
        .current_dir(&members)
        .arg("-q")
        .arg(&zip)
        .args(&names)
        .status()
        .unwrap();
    assert!(status.success());
    zip
}

#[tokio::test]
async fn heavy_the_console_works_in_a_real_browser() {
    let clamd = Clamd::start("");
    let server = Server::start(&format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\ntimeout_seconds = 5\n\n\
         [cdr]\nenabled = true\n\n[[rules]]\nname = \"Default\"\n",
        clamd.socket().display()
    ));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let eicar_path = write(d, "eicar.com", &eicar());
    let clean = write(d, "notes.txt", b"nothing to see here\n");
    let drawing = write(d, "drawing.svg", &svg::active());
    let archive = thousand_member_zip(d);
    let artifacts = console::artifacts_dir("browser");
    let summary = console::drive(
        &console::Plan {
            base: &server.base,
            user: "admin",
            password: ADMIN_PASSWORD,
            rule: "Default",
            eicar: &eicar_path,
            clean: &clean,
            svg: &drawing,
            archive: &archive,
        },
        &artifacts,
    );

    // The copy the browser saved is the server's sanitized drawing: no script left in it.
    let svg_id = summary["uploads"]["drawing.svg"]["data_id"]
        .as_str()
        .unwrap();
    let served = server.output("converted", svg_id).await.unwrap();
    let downloaded = summary["downloaded_text"].as_str().unwrap();
    assert_eq!(downloaded.as_bytes(), served.as_slice());
    assert!(!downloaded.contains("script_marker") && downloaded.contains("<svg"));
    // A screenshot of every page, as PNG files.
    let shots = summary["screenshots"].as_array().unwrap();
    assert_eq!(shots.len(), 12, "{shots:?}");
    for shot in shots {
        let bytes = std::fs::read(shot.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}

/// A client that shows redirects instead of following them, and keeps no cookies.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs `user` in through the console's form; returns the session cookie's `Set-Cookie` value.
async fn console_login(server: &Server, user: &str, password: &str) -> String {
    let response = plain_client()
        .post(server.url("/console/login"))
        .form(&[("user", user), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/console/submissions");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The page at `path` with `cookie` (`name=value`): its status and body.
async fn page(server: &Server, cookie: &str, path: &str) -> (u16, String) {
    let response = plain_client()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The CSRF token a page's forms carry.
fn form_token(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[start..start + 32].to_string()
}

#[tokio::test]
async fn console_sessions_refuse_forms_without_their_token_and_from_other_sites() {
    let server = Server::start("[[rules]]\nname = \"Default\"\n");
    let set_cookie = console_login(&server, "admin", ADMIN_PASSWORD).await;
    assert!(
        set_cookie.contains("; HttpOnly") && set_cookie.contains("; SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let (status, html) = page(&server, &cookie, "/console/submissions").await;
    assert_eq!(status, 200);
    let token = form_token(&html);

    let logout = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = plain_client()
            .post(server.url("/console/logout"))
            .header("cookie", &cookie)
            .form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // Without the token, with a wrong one, and with the right one from another site's page.
    let refused = logout(vec![], None).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("security token"));
    let wrong = logout(vec![("csrf", "0".repeat(32))], None).await.unwrap();
    assert_eq!(wrong.status(), 403);
    let cross = logout(vec![("csrf", token.clone())], Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // The API refuses a state change with the cookie alone too.
    let upload = plain_client()
        .post(server.url("/file"))
        .header("cookie", &cookie)
        .body("no token")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);
    assert_eq!(page(&server, &cookie, "/console/engines").await.0, 200);

    // A cross-site login form is refused before any password is checked.
    let forced = plain_client()
        .post(server.url("/console/login"))
        .header("origin", "https://evil.example")
        .form(&[("user", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 403);
    assert!(forced.headers().get("set-cookie").is_none());

    let out = logout(vec![("csrf", token)], None).await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = page(&server, &cookie, "/console/submissions").await;
    assert_eq!(status, 303, "the pages close with the session");
}

#[tokio::test]
async fn the_console_offers_a_user_only_what_the_api_allows_them() {
    let alice_hash = crate::auth::hash_password("alice-secret");
    let server = Server::start(&format!(
        "[auth]\nisolate_users = true\n\n\
         [[users]]\nname = \"alice\"\nrole = \"user\"\npassword_hash = {alice_hash:?}\n\n\
         [[rules]]\nname = \"Default\"\n\n\
         [[rules]]\nname = \"Admins only\"\nroles = [\"admin\"]\n"
    ));
    let admins_file = server
        .submit("admins-secret.txt", b"admin's".to_vec())
        .await;
    server.wait_final(&admins_file).await;
    let alice = console_login(&server, "alice", "alice-secret").await;
    let alice = alice.split(';').next().unwrap();

    let (_, upload) = page(&server, alice, "/console/upload").await;
    assert!(upload.contains("<option>Default</option>"), "{upload}");
    assert!(
        !upload.contains("Admins only"),
        "a rule alice may not use is offered"
    );
    let (_, list) = page(&server, alice, "/console/submissions").await;
    assert!(!list.contains("admins-secret.txt"));
    assert!(
        !list.contains("name=\"user\""),
        "the user filter is offered"
    );
    // Asking for another user's files by name finds nothing either.
    let (_, filtered) = page(&server, alice, "/console/submissions?user=admin").await;
    assert!(!filtered.contains("admins-secret.txt"));
    let (status, _) = page(&server, alice, &format!("/console/files/{admins_file}")).await;
    assert_eq!(status, 404);

    let admin = console_login(&server, "admin", ADMIN_PASSWORD).await;
    let admin = admin.split(';').next().unwrap();
    let (_, list) = page(&server, admin, "/console/submissions").await;
    assert!(list.contains("admins-secret.txt"));
    let (_, upload) = page(&server, admin, "/console/upload").await;
    assert!(upload.contains("Admins only"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_pages_show_dlp_hits_masked_and_escape_what_files_are_called() {
    let server = Server::start(
        "[dlp]\nenabled = true\n\n[[rules]]\nname = \"Redact\"\n[rules.dlp]\nredact = true\n",
    );
    let customers = "name,card,note\nAda Lovelace,4556 7375 8689 9855,paid by Visa\n";
    let sensitive = server.submit("customers.csv", customers.into()).await;
    server.wait_final(&sensitive).await;
    let hostile_name = "<img src=x onerror=alert(1)>.txt";
    let hostile = server
        .submit_with(
            server
                .post("/file")
                .header("filename", "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"),
            b"harmless".to_vec(),
        )
        .await;
    server.wait_final(&hostile).await;
    let cookie = console_login(&server, "admin", ADMIN_PASSWORD).await;
    let cookie = cookie.split(';').next().unwrap();

    let (status, html) = page(&server, cookie, &format!("/console/files/{sensitive}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2>Proactive DLP</h2>"), "{html}");
    assert!(html.contains("Credit Card Number") && html.contains("4556 **** **** 9855"));
    assert!(html.contains("Sensitive Data Found"));
    assert!(
        html.contains(&format!(
            "href=\"/file/download/{sensitive}\">Download Redacted copy"
        )),
        "no download of the redacted copy"
    );
    assert!(
        !html.contains("4556 7375 8689 9855"),
        "the page shows the card number"
    );

    // Names are text, never markup, on the list and on the report.
    for path in [
        "/console/submissions".to_string(),
        format!("/console/files/{hostile}"),
    ] {
        let (_, html) = page(&server, cookie, &path).await;
        assert!(
            !html.contains(hostile_name),
            "{path} shows the name as markup"
        );
        assert!(!html.contains("<img"), "{path}");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;.txt"),
            "{path}"
        );
    }
}
