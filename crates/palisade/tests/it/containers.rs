//! Container formats beyond zip, 7z, rar and tar, through the binary: installers, disk images,
//! legacy archives and compressed streams built at runtime with Debian's tools, and Debian's
//! `clamav-testfiles` scanned by a clamd whose own unpackers are off, so that only Palisade's
//! extraction can bring the payload to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{Server, eicar};
use palisade_test_support::Clamd;

/// Runs a shell command line in `dir`, failing the test if it fails.
fn sh(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{script} (scripts/test.sh installs the tools)"
    );
}

async fn scan(server: &Server, path: &Path, rule: Option<&str>) -> Value {
    let mut request = server
        .post("/file")
        .header("filename", path.file_name().unwrap().to_str().unwrap());
    if let Some(rule) = rule {
        request = request.header("rule", rule);
    }
    let data_id = server
        .submit_with(request, std::fs::read(path).unwrap())
        .await;
    server.wait_final(&data_id).await
}

/// Each member's name and result.
fn members(report: &Value) -> Vec<(String, i64)> {
    report["extracted_files"]["files_in_archive"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["display_name"].as_str().unwrap_or_default().to_string(),
                m["scan_all_result_i"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// Builds every container of the test in `d` from `eicar.com` and `notes.txt`, with the names
/// its members must have, and the type category it must get (the second, `A`, of installers
/// and images is implied).
fn build_containers(d: &Path) -> Vec<(PathBuf, Vec<&'static str>, &'static str)> {
    std::fs::write(d.join("notes.txt"), b"meeting notes").unwrap();
    std::fs::write(d.join("eicar.com"), eicar()).unwrap();
    let both = vec!["eicar.com", "notes.txt"];
    let mut built = Vec::new();
    let mut add = |name: &str, script: &str, names: Vec<&'static str>, category: &'static str| {
        sh(d, script);
        built.push((d.join(name), names, category));
    };
    add(
        "t.cab",
        "gcab -c t.cab eicar.com notes.txt",
        both.clone(),
        "A",
    );
    for variant in ["newc", "odc", "bin", "crc"] {
        let name: &'static str = Box::leak(format!("{variant}.cpio").into_boxed_str());
        add(
            name,
            &format!(
                "printf 'eicar.com\\nnotes.txt\\n' | cpio -o -H {variant} > {name} 2>/dev/null"
            ),
            both.clone(),
            "A",
        );
    }
    add(
        "t.iso",
        "mkdir -p iso && cp eicar.com notes.txt iso/ && \
         xorriso -as mkisofs -quiet -R -J -o t.iso iso 2>/dev/null",
        both.clone(),
        "I",
    );
    add(
        "t.arj",
        "arj a -y t.arj eicar.com notes.txt >/dev/null",
        both.clone(),
        "A",
    );
    add("t.a", "ar rc t.a eicar.com notes.txt", both.clone(), "A");
    // LHA: written by test-support (no free tool in Debian writes it), checked by lhasa.
    add(
        "t.lzh",
        &format!(
            "python3 {} t.lzh eicar.com notes.txt && lha t t.lzh",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../test-support/scripts/lzh_stored.py"
            )
        ),
        both.clone(),
        "A",
    );
    add(
        "t.deb",
        "mkdir -p pkg/DEBIAN pkg/opt/tool && cp eicar.com notes.txt pkg/opt/tool/ && \
         printf 'Package: tool\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.com>\\nDescription: t\\n' \
           > pkg/DEBIAN/control && dpkg-deb --build pkg t.deb >/dev/null",
        vec!["control.tar.xz", "data.tar.xz"],
        "A",
    );
    add(
        "t.msi",
        "msibuild t.msi -a eicar.com eicar.com -a notes.txt notes.txt",
        // Every stream is a member, the database's own tables too.
        vec![
            "!_StringData",
            "!_StringPool",
            "!_Tables",
            "[5]SummaryInformation",
            "eicar.com",
            "notes.txt",
        ],
        "A",
    );
    add(
        "t.wim",
        "mkdir -p wim && cp eicar.com notes.txt wim/ && wimcapture wim t.wim >/dev/null",
        both.clone(),
        "A",
    );
    // An rpm holds its payload as a compressed cpio, opened in turn.
    add(
        "tool-1.0-1.noarch.rpm",
        r#"mkdir -p rpm/SPECS rpm/SOURCES && cp eicar.com notes.txt rpm/SOURCES/ && cat > rpm/SPECS/tool.spec <<'SPEC'
Name: tool
Version: 1.0
Release: 1
Summary: test
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{buildroot}/opt/tool
cp %{_sourcedir}/eicar.com %{_sourcedir}/notes.txt %{buildroot}/opt/tool/
%files
/opt/tool/eicar.com
/opt/tool/notes.txt
SPEC
rpmbuild -bb --quiet --define "_topdir $PWD/rpm" rpm/SPECS/tool.spec && cp rpm/RPMS/noarch/tool-1.0-1.noarch.rpm ."#,
        vec!["tool-1.0-1.noarch.cpio.gz"],
        "A",
    );
    // A solid NSIS installer does not list its files' sizes: each is streamed on its own.
    add(
        "setup.exe",
        "printf 'SetCompressor /SOLID lzma\\nOutFile setup.exe\\nRequestExecutionLevel user\\n\
         Section\\nSetOutPath $INSTDIR\\nFile eicar.com\\nFile notes.txt\\nSectionEnd\\n' > s.nsi && \
         makensis -V1 s.nsi",
        both.clone(),
        "E",
    );
    add(
        "eicar.com.Z",
        "compress -c eicar.com > eicar.com.Z",
        vec!["eicar.com"],
        "A",
    );
    add(
        "eicar.com.zst",
        "zstd -q -k eicar.com",
        vec!["eicar.com"],
        "A",
    );
    add("eicar.com.lz", "lzip -k eicar.com", vec!["eicar.com"], "A");
    add(
        "eicar.com.lz4",
        "lz4 -q eicar.com eicar.com.lz4",
        vec!["eicar.com"],
        "A",
    );
    // mscompress does not keep the letter its `_` replaces, so the name stays.
    add(
        "eicar.com_",
        "mscompress eicar.com",
        vec!["eicar.com_"],
        "A",
    );
    // Mail built with Python's e-mail library: a message with a body and the attachment, and
    // a mailbox of two messages.
    add(
        "m.eml",
        r#"python3 -c 'import email.message
m = email.message.EmailMessage()
m["From"] = "a@example.com"; m["To"] = "b@example.com"; m["Subject"] = "report"
m.set_content(open("notes.txt").read())
m.add_attachment(open("eicar.com", "rb").read(), maintype="application", subtype="octet-stream", filename="eicar.com")
open("m.eml", "wb").write(bytes(m))'"#,
        vec!["body.txt", "eicar.com"],
        "Z",
    );
    add(
        "box.mbox",
        r#"python3 -c 'import mailbox, email
box = mailbox.mbox("box.mbox")
box.add(email.message_from_bytes(open("m.eml", "rb").read()))
box.add(email.message_from_string("From: c@example.com\nTo: d@example.com\nSubject: hi\n\nhello\n"))
box.flush()'"#,
        vec!["message-1.eml", "message-2.eml"],
        "Z",
    );
    // An Outlook message, written by test-support as MS-OXMSG lays it out (msgconvert reads
    // it in the extraction crate's test).
    std::fs::write(
        d.join("report.msg"),
        palisade_test_support::outlook::message(
            "report",
            "see attached",
            &[("eicar.com", &eicar()), ("notes.txt", b"meeting notes")],
        ),
    )
    .unwrap();
    built.push((
        d.join("report.msg"),
        vec!["body.txt", "eicar.com", "notes.txt"],
        "Z",
    ));
    built
}

#[tokio::test]
async fn heavy_installers_images_and_legacy_archives_give_up_their_members() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut failures = Vec::new();
    for (path, names, category) in build_containers(d) {
        let report = scan(&server, &path, None).await;
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let listed = members(&report);
        let got: Vec<&str> = listed.iter().map(|(name, _)| name.as_str()).collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        let categories = report["file_info"]["type_category"].clone();
        eprintln!(
            "{file:14} {:?} result {} members {listed:?}",
            categories, report["scan_results"]["scan_all_result_i"]
        );
        let blocked = report["scan_results"]["scan_all_result_i"] == 1
            && report["process_info"]["result"] == "Blocked";
        let categorised = categories[0] == category
            && categories
                .as_array()
                .is_some_and(|all| all.iter().any(|c| c == "A" || c == "Z"));
        if sorted != names || !blocked || !categorised {
            failures.push(format!("{file}: {categories} {report}"));
        }
        // The infected member is named and found where it is a file of its own.
        if let Some((_, result)) = listed.iter().find(|(name, _)| name == "eicar.com") {
            assert_eq!(*result, 1, "{file}: {report}");
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// An RTF document embedding `name` as an OLE package object, written as Word writes one.
fn rtf_with_package(name: &str, data: &[u8]) -> Vec<u8> {
    let mut native = palisade_test_support::ole_package(name, data);
    native.extend_from_slice(&[0, 0]);
    let mut object = Vec::new();
    object.extend_from_slice(&0x0501u32.to_le_bytes());
    object.extend_from_slice(&2u32.to_le_bytes());
    for field in [&b"Package\0"[..], b"\0", b"\0"] {
        object.extend_from_slice(&(field.len() as u32).to_le_bytes());
        object.extend_from_slice(field);
    }
    object.extend_from_slice(&(native.len() as u32).to_le_bytes());
    object.extend_from_slice(&native);
    let hex: String = object.iter().map(|b| format!("{b:02x}")).collect();
    let lines: Vec<&str> = hex
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "{{\\rtf1\\ansi{{\\fonttbl{{\\f0 Arial;}}}}\\pard report\\par\n         {{\\object\\objemb{{\\*\\objclass Package}}\\objw1440\\objh1440\n         {{\\*\\objdata\n{}\n}}}}\\par}}\n",
        lines.join("\n")
    )
    .into_bytes()
}

#[tokio::test]
async fn heavy_documents_give_up_the_files_they_embed() {
    let server = Server::start("");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("eicar.com"), eicar()).unwrap();

    // A PDF attachment, added by poppler's pdfattach.
    std::fs::write(
        d.join("plain.pdf"),
        palisade_test_support::pdf::plain("quarterly report"),
    )
    .unwrap();
    sh(d, "pdfattach plain.pdf eicar.com attached.pdf");
    // An RTF package object; oletools' rtfobj, an independent reader, finds it as Word would.
    std::fs::write(
        d.join("object.rtf"),
        rtf_with_package("eicar.com", &eicar()),
    )
    .unwrap();
    let rtfobj = Command::new("rtfobj")
        .arg(d.join("object.rtf"))
        .output()
        .expect("rtfobj (oletools) is installed");
    let listing = String::from_utf8_lossy(&rtfobj.stdout);
    assert!(listing.contains("Filename: 'eicar.com'"), "{listing}");
    // A data: URI in HTML.
    sh(
        d,
        "printf '<html><body><a href=\"data:application/octet-stream;base64,%s\">x</a></body></html>' \
         \"$(base64 -w0 eicar.com)\" > link.html",
    );
    for (file, member, category) in [
        ("attached.pdf", "eicar.com", "P"),
        ("object.rtf", "eicar.com", "D"),
        ("link.html", "data-uri-1", "T"),
    ] {
        let report = scan(&server, &d.join(file), None).await;
        assert_eq!(
            members(&report),
            vec![(member.to_string(), 1)],
            "{file}: {report}"
        );
        assert_eq!(report["scan_results"]["scan_all_result_i"], 1, "{file}");
        assert_eq!(report["process_info"]["result"], "Blocked", "{file}");
        assert_eq!(report["file_info"]["type_category"][0], category, "{file}");
    }

    // oletools' test documents embed a text file in every Office format: each gives it up,
    // and stays a document that is allowed.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-data/oletools-0.60.2/tests/test-data/oleobj");
    for extension in ["doc", "docx", "ppt", "pptx", "xls", "xlsx"] {
        let path = samples.join(format!("embedded-simple-2007.{extension}"));
        let report = scan(&server, &path, None).await;
        assert_eq!(
            members(&report),
            vec![("simple-text-file.txt".to_string(), 0)],
            "{extension}: {report}"
        );
        assert_eq!(report["process_info"]["result"], "Allowed", "{extension}");
        assert_eq!(report["file_info"]["type_category"][0], "D", "{extension}");
    }

    // A document that embeds nothing keeps the report it had: no extracted files.
    let report = scan(&server, &d.join("plain.pdf"), None).await;
    assert!(
        report.get("extracted_files").is_none_or(Value::is_null),
        "{report}"
    );
    assert_eq!(report["process_info"]["result"], "Allowed");
}

/// The files of Debian's `clamav-testfiles` that no extraction can bring to a signature: the
/// executables compressed by PE packers, which only an engine's emulator can unpack, the
/// compiled AutoIt scripts and the Symbian package.
const ONLY_AN_ENGINE_UNPACKS: &[&str] = &[
    "clam-mew.exe",
    "clam-petite.exe",
    "clam-upack.exe",
    "clam-wwpack.exe",
    "clam.ea05.exe",
    "clam.ea06.exe",
    "clam.sis",
];

async fn scan_test_files(unpackers: &str) -> Vec<(String, i64, String)> {
    let clamd = Clamd::start(unpackers);
    let server = Server::start(&format!(
        "[[engines]]\nkind = \"clamav\"\naddress = \"unix:{}\"\ntimeout_seconds = 30\n\n\
         [[rules]]\nname = \"ClamAV only\"\nengines = [\"clamav\"]\n",
        clamd.socket().display()
    ));
    let dir = Path::new("/usr/share/clamav-testfiles");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("clamav-testfiles is installed")
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 44, "Debian's clamav-testfiles has 44 files");
    let mut table = Vec::new();
    for path in files {
        let report = scan(&server, &path, Some("ClamAV only")).await;
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let threat = report["extracted_files"]["worst_data_id"]
            .as_str()
            .map(|_| "in a member".to_string())
            .unwrap_or_default();
        table.push((
            name,
            report["scan_results"]["scan_all_result_i"]
                .as_i64()
                .unwrap_or(-1),
            format!(
                "{} {}",
                report["scan_results"]["scan_all_result_a"]
                    .as_str()
                    .unwrap_or_default(),
                threat
            ),
        ));
    }
    for (name, result, text) in &table {
        eprintln!("{name:24} {result:2} {text}");
    }
    table
}

#[tokio::test]
async fn heavy_clamav_test_files_are_found_through_palisade_extraction_alone() {
    let table =
        scan_test_files("ScanArchive no\nScanMail no\nScanOLE2 no\nScanPDF no\nScanHTML no\n")
            .await;
    let found: Vec<&str> = table
        .iter()
        .filter(|(_, result, _)| *result == 1)
        .map(|(name, _, _)| name.as_str())
        .collect();
    let expected: Vec<&str> = table
        .iter()
        .map(|(name, _, _)| name.as_str())
        .filter(|name| !ONLY_AN_ENGINE_UNPACKS.contains(name))
        .collect();
    eprintln!("found {} of {}", found.len(), table.len());
    assert_eq!(found, expected);
    assert_eq!(found.len(), 37);
}

#[tokio::test]
async fn heavy_clamav_test_files_are_all_found_with_clamd_unpacking_too() {
    let table = scan_test_files("").await;
    let missed: Vec<&(String, i64, String)> =
        table.iter().filter(|(_, result, _)| *result != 1).collect();
    assert!(missed.is_empty(), "{missed:?}");
}
