//! Extraction of archives built at runtime: formats, encryption, hostile names and entries,
//! and the budget stopping bombs early.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_extract::{BudgetLimits, Extractor, Format, Limit, LocalBudget, Outcome, detect_file};
use zip::write::SimpleFileOptions;

fn extract_with(
    archive: &Path,
    passwords: &[&str],
    limits: BudgetLimits,
) -> (Outcome, LocalBudget, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let budget = LocalBudget::new(limits);
    let passwords: Vec<String> = passwords.iter().map(|p| p.to_string()).collect();
    let format = detect_file(archive).unwrap().expect("a known format");
    let outcome = Extractor {
        out_dir: out.path(),
        passwords: &passwords,
        budget: &budget,
        display_name: &archive.file_name().unwrap().to_string_lossy(),
    }
    .extract(archive, format)
    .unwrap();
    (outcome, budget, out)
}

fn extract(archive: &Path, passwords: &[&str]) -> (Outcome, tempfile::TempDir) {
    let (outcome, _, dir) = extract_with(archive, passwords, BudgetLimits::default());
    (outcome, dir)
}

fn names_and_contents(outcome: &Outcome) -> Vec<(String, Vec<u8>)> {
    outcome
        .members
        .iter()
        .map(|m| (m.name.clone(), std::fs::read(&m.path).unwrap()))
        .collect()
}

fn build_zip(path: &Path, entries: &[(&str, &[u8])], options: SimpleFileOptions) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn zip_members_are_extracted_with_safe_names_and_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = SimpleFileOptions::default();
    writer.add_directory("docs/", options).unwrap();
    writer.start_file("docs/report.txt", options).unwrap();
    writer.write_all(b"quarterly").unwrap();
    writer.start_file("../../etc/cron.d/evil", options).unwrap();
    writer.write_all(b"* * * * * root sh").unwrap();
    writer.add_symlink("link", "/etc/shadow", options).unwrap();
    writer.finish().unwrap();

    let (outcome, out) = extract(&path, &[]);
    assert_eq!(
        names_and_contents(&outcome),
        vec![
            ("docs/report.txt".to_string(), b"quarterly".to_vec()),
            ("etc/cron.d/evil".to_string(), b"* * * * * root sh".to_vec()),
        ]
    );
    assert_eq!(outcome.skipped.len(), 1);
    assert!(outcome.skipped[0].1.contains("link"));
    assert!(!outcome.encrypted);
    // Nothing was written outside the scratch directory, under any member's own name.
    let written: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 2);
    assert!(written.iter().all(|p| p.starts_with(out.path())));
}

#[test]
fn aes_and_zipcrypto_zips_open_only_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let aes = dir.path().join("aes.zip");
    build_zip(
        &aes,
        &[("secret.txt", b"top secret payload")],
        SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, "fox"),
    );
    // ZipCrypto archives come from Info-ZIP's zip (the crate cannot write them).
    let plain = dir.path().join("secret.txt");
    std::fs::write(&plain, b"legacy secret payload").unwrap();
    let legacy = dir.path().join("legacy.zip");
    let status = std::process::Command::new("zip")
        .args(["-q", "-j", "-P", "cow"])
        .arg(&legacy)
        .arg(&plain)
        .status()
        .expect("zip is installed (scripts/test.sh installs it)");
    assert!(status.success());

    for (archive, right, content) in [
        (&aes, "fox", &b"top secret payload"[..]),
        (&legacy, "cow", &b"legacy secret payload"[..]),
    ] {
        let (opened, _dir) = extract(archive, &["wrong", right]);
        assert!(opened.encrypted);
        assert_eq!(opened.decrypted, Some(true));
        assert_eq!(names_and_contents(&opened)[0].1, content);

        let (locked, _dir) = extract(archive, &["wrong", "bear"]);
        assert!(locked.encrypted);
        assert_eq!(locked.decrypted, Some(false));
        assert!(locked.members.is_empty());
        assert!(locked.skipped[0].1.contains("no given password"));
    }
}

#[test]
fn tar_keeps_regular_files_only_and_compressed_tars_open_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        let mut add = |name: &str, kind: tar::EntryType, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_link_name("/etc/passwd").unwrap();
            }
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("dir/a.txt", tar::EntryType::Regular, b"alpha");
        add("dir/link", tar::EntryType::Symlink, b"");
        add("dir/hard", tar::EntryType::Link, b"");
        add("dev/sda", tar::EntryType::Block, b"");
        add("pipe", tar::EntryType::Fifo, b"");
        add("b.bin", tar::EntryType::Regular, b"beta");
        builder.finish().unwrap();
    }
    let tar_path = dir.path().join("t.tar");
    std::fs::write(&tar_path, &tar_bytes).unwrap();

    let gz = dir.path().join("t.tar.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    encoder.write_all(&tar_bytes).unwrap();
    encoder.finish().unwrap();
    let bz = dir.path().join("t.tbz2");
    let mut encoder =
        bzip2::write::BzEncoder::new(std::fs::File::create(&bz).unwrap(), Default::default());
    encoder.write_all(&tar_bytes).unwrap();
    encoder.finish().unwrap();
    let xz = dir.path().join("t.tar.xz");
    let mut encoder = lzma_rust2::XzWriter::new(
        std::fs::File::create(&xz).unwrap(),
        lzma_rust2::XzOptions::default(),
    )
    .unwrap();
    encoder.write_all(&tar_bytes).unwrap();
    encoder.finish().unwrap();

    for path in [&tar_path, &gz, &bz, &xz] {
        let (outcome, _out) = extract(path, &[]);
        assert_eq!(
            names_and_contents(&outcome),
            vec![
                ("dir/a.txt".to_string(), b"alpha".to_vec()),
                ("b.bin".to_string(), b"beta".to_vec()),
            ],
            "{}",
            path.display()
        );
        assert_eq!(outcome.skipped.len(), 4, "{}", path.display());
    }
}

#[test]
fn a_compressed_file_holds_one_member_named_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
    encoder.write_all(b"%PDF-1.7 pretend").unwrap();
    encoder.finish().unwrap();
    assert_eq!(detect_file(&path).unwrap(), Some(Format::Gzip));
    let (outcome, _out) = extract(&path, &[]);
    assert_eq!(
        names_and_contents(&outcome),
        vec![("report.pdf".to_string(), b"%PDF-1.7 pretend".to_vec())]
    );
}

#[test]
fn member_count_and_total_size_limits_stop_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.zip");
    let names: Vec<String> = (0..1000).map(|i| format!("f{i:04}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    build_zip(&many, &entries, SimpleFileOptions::default());
    let (all, _out) = extract(&many, &[]);
    assert_eq!(all.members.len(), 1000);
    assert_eq!(all.stopped, None);
    let limits = BudgetLimits {
        max_members: 100,
        ..BudgetLimits::default()
    };
    let (capped, _, _out) = extract_with(&many, &[], limits);
    assert_eq!(capped.members.len(), 100);
    assert_eq!(capped.stopped, Some(Limit::FileNumber));

    let big = dir.path().join("big.zip");
    let block = vec![7u8; 1 << 20];
    let names: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &block[..])).collect();
    build_zip(&big, &entries, SimpleFileOptions::default());
    let limits = BudgetLimits {
        max_total_bytes: 5 << 20,
        ..BudgetLimits::default()
    };
    let (capped, budget, _out) = extract_with(&big, &[], limits);
    assert_eq!(capped.stopped, Some(Limit::Size));
    assert_eq!(capped.members.len(), 5);
    assert!(budget.used().0 <= (5 << 20) + (64 << 10));

    let limits = BudgetLimits {
        max_time: Duration::ZERO,
        ..BudgetLimits::default()
    };
    let (late, _, _out) = extract_with(&big, &[], limits);
    assert_eq!(late.stopped, Some(Limit::Timeout));
}

#[test]
fn a_compression_bomb_stops_at_the_ratio_limit_after_little_output() {
    let dir = tempfile::tempdir().unwrap();
    // 1 GiB of zeros compresses to about 1 MiB with gzip.
    let path = dir.path().join("bomb.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::best(),
    );
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap();
    let (outcome, budget, _out) = extract_with(&path, &[], BudgetLimits::default());
    assert_eq!(outcome.stopped, Some(Limit::Size));
    assert!(outcome.members.is_empty());
    let (written, _) = budget.used();
    assert!(written < 64 << 20, "stopped after {written} bytes");
}

#[test]
fn an_overlapping_entry_zip_bomb_is_stopped_by_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlap.zip");
    palisade_test_support::overlapping_zip_bomb(&path, 16 << 20, 1000);
    // With the default ratio limit the first member already stops it; without one, the total
    // size limit does after 16 members of 16 MiB.
    for (max_ratio, members) in [(1000, 0), (u64::MAX, 16)] {
        let limits = BudgetLimits {
            max_total_bytes: 256 << 20,
            max_ratio,
            ..BudgetLimits::default()
        };
        let (outcome, budget, _out) = extract_with(&path, &[], limits);
        assert_eq!(outcome.stopped, Some(Limit::Size));
        assert_eq!(outcome.members.len(), members);
        assert!(budget.used().0 <= (256 << 20) + (64 << 10));
    }
}

/// Builds a 7z archive with Debian's 7-Zip (`7zz`), optionally encrypted (content, or content
/// and headers).
fn seven_zip(
    dir: &Path,
    name: &str,
    files: &[(&str, &[u8])],
    password: Option<(&str, bool)>,
) -> PathBuf {
    let source = dir.join(format!("{name}.src"));
    std::fs::create_dir_all(&source).unwrap();
    for (file, bytes) in files {
        std::fs::write(source.join(file), bytes).unwrap();
    }
    let archive = dir.join(name);
    let mut command = std::process::Command::new("7zz");
    command.args(["a", "-bd", "-bso0"]).arg(&archive);
    if let Some((password, headers)) = password {
        command.arg(format!("-p{password}"));
        command.arg(if headers { "-mhe=on" } else { "-mhe=off" });
    }
    let status = command
        .arg(".")
        .current_dir(&source)
        .status()
        .expect("7zz is installed (scripts/test.sh installs 7zip)");
    assert!(status.success());
    archive
}

#[test]
fn seven_zip_archives_open_plain_and_with_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("a.txt", b"alpha alpha"), ("b.bin", &[1, 2, 3, 4])];
    let plain = seven_zip(dir.path(), "plain.7z", files, None);
    assert_eq!(detect_file(&plain).unwrap(), Some(Format::SevenZip));
    let (outcome, _out) = extract(&plain, &[]);
    let mut got = names_and_contents(&outcome);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a.txt".to_string(), b"alpha alpha".to_vec()),
            ("b.bin".to_string(), vec![1, 2, 3, 4]),
        ]
    );
    assert!(!outcome.encrypted);

    for headers in [false, true] {
        let name = format!("secret-{headers}.7z");
        let locked = seven_zip(dir.path(), &name, files, Some(("bear", headers)));
        let (opened, _out) = extract(&locked, &["fox", "bear"]);
        assert!(opened.encrypted, "headers encrypted: {headers}");
        assert_eq!(opened.decrypted, Some(true));
        assert_eq!(opened.members.len(), 2);
        let (refused, _out) = extract(&locked, &["fox"]);
        assert!(refused.encrypted);
        assert_eq!(refused.decrypted, Some(false));
        assert!(refused.members.is_empty(), "headers encrypted: {headers}");
    }
}

/// Builds a RAR archive with RARLAB's `rar` (Debian non-free; scripts/test.sh fetches it).
fn rar(dir: &Path, name: &str, files: &[(&str, &[u8])], flags: &[&str]) -> PathBuf {
    let source = dir.join(format!("{name}.src"));
    std::fs::create_dir_all(&source).unwrap();
    for (file, bytes) in files {
        std::fs::write(source.join(file), bytes).unwrap();
    }
    let archive = dir.join(name);
    let status = std::process::Command::new("rar")
        .args(["a", "-idq", "-ol", "-r"])
        .args(flags)
        .arg(&archive)
        .arg(".")
        .current_dir(&source)
        .status()
        .expect("rar is installed (scripts/test.sh installs it)");
    assert!(status.success());
    archive
}

#[test]
fn rar_archives_open_plain_and_encrypted_with_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("a.txt", b"alpha rar"), ("b.bin", &[9; 5000])];
    let plain = rar(dir.path(), "plain.rar", files, &[]);
    assert_eq!(detect_file(&plain).unwrap(), Some(Format::Rar));
    let (outcome, _out) = extract(&plain, &[]);
    let mut got = names_and_contents(&outcome);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a.txt".to_string(), b"alpha rar".to_vec()),
            ("b.bin".to_string(), vec![9; 5000]),
        ]
    );
    assert!(!outcome.encrypted);

    for flag in ["-pbear", "-hpbear"] {
        let name = format!("secret{flag}.rar");
        let locked = rar(dir.path(), &name, files, &[flag]);
        let (opened, _out) = extract(&locked, &["fox", "bear"]);
        assert!(opened.encrypted, "{flag}");
        assert_eq!(opened.decrypted, Some(true), "{flag}");
        let mut got = names_and_contents(&opened);
        got.sort();
        assert_eq!(got[0].1, b"alpha rar", "{flag}");
        let (refused, _out) = extract(&locked, &["fox"]);
        assert!(refused.encrypted, "{flag}");
        assert_eq!(refused.decrypted, Some(false), "{flag}");
        assert!(refused.members.is_empty(), "{flag}");
    }
}

#[test]
fn rar_links_are_skipped_and_the_budget_stops_the_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("big.bin"), vec![0u8; 32 << 20]).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", source.join("link")).unwrap();
    let archive = dir.path().join("links.rar");
    let status = std::process::Command::new("rar")
        .args(["a", "-idq", "-ol"])
        .arg(&archive)
        .args(["big.bin", "link"])
        .current_dir(&source)
        .status()
        .unwrap();
    assert!(status.success());
    // Zeros compress far beyond the default ratio limit: lift it to see the member whole.
    let no_ratio = BudgetLimits {
        max_ratio: u64::MAX,
        ..BudgetLimits::default()
    };
    let (all, _, _out) = extract_with(&archive, &[], no_ratio);
    assert_eq!(all.members.len(), 1);
    assert_eq!(all.members[0].size, 32 << 20);
    assert!(
        all.skipped
            .iter()
            .any(|(name, why)| name == "link" && why.contains("link"))
    );

    let limits = BudgetLimits {
        max_total_bytes: 4 << 20,
        ..no_ratio
    };
    let (capped, budget, _out) = extract_with(&archive, &[], limits);
    assert_eq!(capped.stopped, Some(Limit::Size));
    assert!(capped.members.is_empty());
    assert!(budget.used().0 <= (4 << 20) + (64 << 10));
}

#[test]
fn a_part_of_a_split_zip_is_said_to_be_one_never_read_as_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 300,000 bytes that do not compress, split into parts of 64 KiB by Info-ZIP's zip.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..300_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    let status = std::process::Command::new("zip")
        .args(["-q", "-s", "64k", "parts.zip", "data.bin"])
        .current_dir(d)
        .status()
        .expect("zip is installed (scripts/test.sh installs it)");
    assert!(status.success());
    for (part, says) in [
        ("parts.z01", "a split (spanned) zip archive: "),
        ("parts.zip", "a split (spanned) zip archive of 5 parts: "),
    ] {
        let path = d.join(part);
        let format = detect_file(&path).unwrap();
        assert_eq!(format, Some(Format::Zip), "{part}");
        let out = tempfile::tempdir().unwrap();
        let budget = LocalBudget::new(BudgetLimits::default());
        let error = Extractor {
            out_dir: out.path(),
            passwords: &[],
            budget: &budget,
            display_name: part,
        }
        .extract(&path, Format::Zip)
        .unwrap_err()
        .to_string();
        assert!(error.contains(says), "{part}: {error}");
    }
}

/// Opens `path` and, recursively, every member that is itself a container, and returns the
/// display paths of the members whose bytes are `wanted`.
fn find_inside(path: &Path, name: &str, wanted: &[u8], depth: u32, found: &mut Vec<String>) {
    // Documents are opened for what they embed (the server tells them by their type).
    let document = [".doc", ".ppt", ".pdf", ".rtf", ".html"]
        .iter()
        .any(|suffix| name.ends_with(suffix));
    let format = if document {
        palisade_extract::detect_document(path, true)
    } else {
        detect_file(path)
    };
    let Ok(Some(format)) = format else {
        return;
    };
    if depth > 4 {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let budget = LocalBudget::new(BudgetLimits::default());
    let Ok(outcome) = (Extractor {
        out_dir: out.path(),
        passwords: &[],
        budget: &budget,
        display_name: name,
    })
    .extract(path, format) else {
        return;
    };
    for member in &outcome.members {
        let inner = format!("{name}/{}", member.name);
        if std::fs::read(&member.path).unwrap() == wanted {
            found.push(inner.clone());
        }
        find_inside(&member.path, &inner, wanted, depth + 1, found);
    }
}

#[test]
fn clamav_test_files_in_containers_give_up_their_clam_exe() {
    let dir = Path::new("/usr/share/clamav-testfiles");
    let clam = std::fs::read(dir.join("clam.exe")).expect("clamav-testfiles is installed");
    // Each container and where clam.exe is inside it.
    let expected: &[(&str, &str)] = &[
        ("clam-nsis.exe", "clam-nsis.exe/clam.exe"),
        ("clam.arj", "clam.arj/clam.exe"),
        ("clam.bin-be.cpio", "clam.bin-be.cpio/clam.exe"),
        ("clam.bin-le.cpio", "clam.bin-le.cpio/clam.exe"),
        ("clam.newc.cpio", "clam.newc.cpio/clam.exe"),
        ("clam.odc.cpio", "clam.odc.cpio/clam.exe"),
        ("clam.cab", "clam.cab/clam.exe"),
        ("clam.chm", "clam.chm/clam.exe.txt"),
        ("clam.exe.binhex", "clam.exe.binhex/clam.exe"),
        ("clam.exe.szdd", "clam.exe.szdd/clam.exe"),
        ("clam.impl.zip", "clam.impl.zip/CLAM.EXE"),
        ("clam.d64.zip", "clam.d64.zip/clam.exe"),
        ("clam.bz2.zip", "clam.bz2.zip/clam.exe"),
        ("clam.7z", "clam.7z/clam.exe"),
        ("clam.exe.bz2", "clam.exe.bz2/clam.exe"),
        ("clam.tar.gz", "clam.tar.gz/clam.exe"),
        ("clam.zip", "clam.zip/clam.exe"),
        ("clam.mail", "clam.mail/clam.exe"),
        ("clam.tnef", "clam.tnef/clam.exe"),
        ("clam_ISmsi_ext.exe", "clam_ISmsi_ext.exe/clam.exe409.bmp"),
        (
            "clam_ISmsi_int.exe",
            "clam_ISmsi_int.exe/clam.msi/Data1.cab/clam.exe",
        ),
        ("clam.pdf", "clam.pdf/embedded-1"),
        ("clam.exe.rtf", "clam.exe.rtf/Clam.exe"),
        ("clam.ole.doc", "clam.ole.doc/Clam.exe"),
        ("clam.ppt", "clam.ppt/clam.exe"),
        ("clam.exe.html", "clam.exe.html/data-uri-1"),
        (
            "clam.exe.mbox.base64",
            "clam.exe.mbox.base64/message-1.eml/clam.exe",
        ),
        (
            "clam.exe.mbox.uu",
            "clam.exe.mbox.uu/message-1.eml/clam.exe",
        ),
    ];
    let mut table = Vec::new();
    for (file, _) in expected {
        let mut found = Vec::new();
        find_inside(&dir.join(file), file, &clam, 0, &mut found);
        table.push((file.to_string(), found));
    }
    for (file, found) in &table {
        eprintln!("{file:24} {found:?}");
    }
    let got: Vec<(&str, Option<&str>)> = table
        .iter()
        .map(|(file, found)| (file.as_str(), found.first().map(String::as_str)))
        .collect();
    let want: Vec<(&str, Option<&str>)> = expected.iter().map(|(f, p)| (*f, Some(*p))).collect();
    assert_eq!(got, want);
}

#[test]
fn mail_gives_its_parts_and_a_mailbox_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("m.eml");
    let inner = "From: c@example.com\r\nTo: d@example.com\r\nSubject: inner\r\n\r\nnested body\r\n";
    let message = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         caf=C3=A9 notes\r\n\
         --B\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n\
         --B\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
         Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\n\
         --B\r\nContent-Type: message/rfc822\r\n\r\n{inner}\
         --B--\r\n"
    );
    std::fs::write(&eml, &message).unwrap();
    assert_eq!(detect_file(&eml).unwrap(), Some(Format::Mail));
    let (outcome, _out) = extract(&eml, &[]);
    let got = names_and_contents(&outcome);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["body.txt", "a.bin", "a (2).bin", "message.eml"]);
    assert_eq!(got[0].1, "café notes".as_bytes());
    assert_eq!(got[1].1, [0, 1, 2, 3]);
    assert_eq!(got[2].1, b"Cat");
    assert!(String::from_utf8_lossy(&got[3].1).contains("nested body"));

    let mbox = dir.path().join("box");
    std::fs::write(
        &mbox,
        format!(
            "From a@example.com Thu Jul 31 13:49:50 2008\n{}\nFrom b@example.com Fri Aug  1 10:00:00 2008\n{inner}",
            message.replace("\r\n", "\n")
        ),
    )
    .unwrap();
    assert_eq!(detect_file(&mbox).unwrap(), Some(Format::Mbox));
    let (outcome, _out) = extract(&mbox, &[]);
    let got = names_and_contents(&outcome);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["message-1.eml", "message-2.eml"]);
    assert!(got[0].1.starts_with(b"From: a@example.com\n"));
    assert!(got[1].1.ends_with(b"nested body\r\n"));
}

#[test]
fn office_files_of_every_kind_give_up_their_packaged_file() {
    // oletools' test documents (scripts/test.sh fetches them): each embeds the same file.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-data/oletools-0.60.2/tests/test-data/oleobj");
    let mut table = Vec::new();
    for extension in [
        "doc", "dot", "docx", "docm", "dotx", "dotm", "ppt", "pps", "pot", "pptx", "pptm", "ppsx",
        "ppsm", "potx", "potm", "xls", "xlt", "xla", "xlsx", "xlsm", "xlsb", "xltx", "xltm",
        "xlam",
    ] {
        let path = dir.join(format!("embedded-simple-2007.{extension}"));
        let format = palisade_extract::detect_document(&path, false).unwrap();
        let out = tempfile::tempdir().unwrap();
        let budget = LocalBudget::new(BudgetLimits::default());
        let outcome = format.map(|format| {
            Extractor {
                out_dir: out.path(),
                passwords: &[],
                budget: &budget,
                display_name: "document",
            }
            .extract(&path, format)
        });
        let members: Vec<String> = match &outcome {
            Some(Ok(outcome)) => outcome.members.iter().map(|m| m.name.clone()).collect(),
            other => vec![format!("{other:?}")],
        };
        eprintln!("{extension:5} {format:?} {members:?}");
        table.push((extension, members));
    }
    let missing: Vec<&(&str, Vec<String>)> = table
        .iter()
        .filter(|(_, members)| !members.iter().any(|m| m == "simple-text-file.txt"))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn zips_of_every_method_zip64_and_data_descriptors_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = "quarterly report line\n".repeat(5000);
    std::fs::write(d.join("big.txt"), &text).unwrap();
    std::fs::write(d.join("notes.txt"), b"meeting notes").unwrap();
    let sh = |script: &str| {
        let status = std::process::Command::new("sh")
            .args(["-ec", script])
            .current_dir(d)
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    };
    // 7-Zip writes the methods Info-ZIP does not.
    for method in ["Deflate64", "BZip2", "LZMA", "PPMd", "XZ"] {
        sh(&format!(
            "7zz a -bd -bso0 -tzip -mm={method} m-{method}.zip big.txt notes.txt"
        ));
    }
    // zstd (method 93) by the zip crate's writer.
    let mut writer = zip::ZipWriter::new(std::fs::File::create(d.join("m-zstd.zip")).unwrap());
    let zstd = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Zstd);
    for (name, bytes) in [
        ("big.txt", text.as_bytes()),
        ("notes.txt", b"meeting notes"),
    ] {
        writer.start_file(name, zstd).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
    // Zip64 records, and data descriptors (Info-ZIP writing to a pipe cannot seek back).
    sh("zip -q -fz m-zip64.zip big.txt notes.txt");
    sh("zip -q - big.txt notes.txt | cat > m-stream.zip");
    for name in [
        "m-Deflate64.zip",
        "m-BZip2.zip",
        "m-LZMA.zip",
        "m-PPMd.zip",
        "m-XZ.zip",
        "m-zstd.zip",
        "m-zip64.zip",
        "m-stream.zip",
    ] {
        let (outcome, _out) = extract(&d.join(name), &[]);
        assert_eq!(
            names_and_contents(&outcome),
            vec![
                ("big.txt".to_string(), text.as_bytes().to_vec()),
                ("notes.txt".to_string(), b"meeting notes".to_vec()),
            ],
            "{name}"
        );
    }
}

#[test]
fn an_outlook_message_gives_its_body_and_attachments_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.msg");
    std::fs::write(
        &path,
        palisade_test_support::outlook::message(
            "quarterly",
            "see attached",
            &[
                ("figures.csv", b"a,b\n1,2\n"),
                ("notes.txt", b"meeting notes"),
            ],
        ),
    )
    .unwrap();
    // An independent reader takes it for a message with both attachments.
    let converted = std::process::Command::new("msgconvert")
        .args(["--outfile", "-"])
        .arg(&path)
        .output()
        .expect("msgconvert (libemail-outlook-message-perl) is installed");
    let eml = String::from_utf8_lossy(&converted.stdout);
    assert!(converted.status.success(), "{eml}");
    assert!(eml.contains("Subject: quarterly"), "{eml}");
    assert!(
        eml.contains("figures.csv") && eml.contains("notes.txt"),
        "{eml}"
    );

    assert_eq!(detect_file(&path).unwrap(), Some(Format::OutlookMsg));
    let (outcome, _out) = extract(&path, &[]);
    assert_eq!(
        names_and_contents(&outcome),
        vec![
            ("body.txt".to_string(), b"see attached".to_vec()),
            ("figures.csv".to_string(), b"a,b\n1,2\n".to_vec()),
            ("notes.txt".to_string(), b"meeting notes".to_vec()),
        ]
    );
}
