//! Office Open XML: a macro-enabled Word document built at runtime, and the Office samples
//! of oletools' source distribution, lose every targeted object by oletools' judgement, and
//! the copies still open in python-docx, openpyxl, python-pptx and headless LibreOffice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use palisade_model::{ActiveObject, CdrAction, CdrPolicy, SanitizationResult};
use palisade_test_support::{images, ooxml};

use crate::{Run, oletools_data, sanitize};

/// Every part of a package, with the parts of packages inside it (as `outer!inner`).
fn all_parts(package: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for (name, data) in ooxml::parts(package) {
        if data.starts_with(b"PK\x03\x04") {
            for (inner, bytes) in all_parts(&data) {
                all.push((format!("{name}!{inner}"), bytes));
            }
        }
        all.push((name, data));
    }
    all
}

fn part_with<'a>(parts: &'a [(String, Vec<u8>)], marker: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|(name, data)| {
            name.contains(marker) || data.windows(marker.len()).any(|w| w == marker.as_bytes())
        })
        .map(|(name, _)| name.as_str())
}

fn python(script: &str, file: &Path) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3 {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether olevba (oletools) finds VBA macros with code in them. (For a PowerPoint 97-2003
/// file olevba lists every object storage record it finds, even an emptied one, as a macro
/// without code.)
pub(crate) fn olevba_finds_macros(file: &Path) -> bool {
    let code = python(
        "import sys\nfrom oletools.olevba import VBA_Parser\n\
         p = VBA_Parser(sys.argv[1])\n\
         print(sum(len(c or '') for (_, _, _, c) in p.extract_all_macros()) \
         if p.detect_vba_macros() else 0)",
        file,
    );
    code != "0"
}

/// How many embedded files oleobj (oletools) extracts.
pub(crate) fn oleobj_extracts(file: &Path) -> usize {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("oleobj")
        .arg("-d")
        .arg(out.path())
        .arg(file)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("oleobj (oletools) is installed (scripts/test.sh installs it)");
    // 0: nothing found, 1: files dumped; anything else is an error reading the file.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "oleobj reads {}: {status}",
        file.display()
    );
    std::fs::read_dir(out.path()).unwrap().count()
}

/// The DDE links and macro fields msodde (oletools) lists.
pub(crate) fn msodde_links(file: &Path) -> Vec<String> {
    let out = Command::new("msodde")
        .arg(file)
        .output()
        .expect("msodde (oletools) is installed (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let (_, links) = text
        .split_once("DDE Links:")
        .unwrap_or_else(|| panic!("msodde read {}: {text}", file.display()));
    links
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

/// What olevba (oletools) reads of each VBA module with code, as the report gives it: the
/// module's stream name and its first two lines of code, not blank and not `Attribute` lines,
/// cut at 80 characters.
pub(crate) fn olevba_first_lines(file: &Path) -> Vec<String> {
    let script = "import sys\nfrom oletools.olevba import VBA_Parser\n\
                  p = VBA_Parser(sys.argv[1])\n\
                  for (_, stream, name, code) in p.extract_macros():\n\
                  \x20   if not name.endswith(('.bas', '.cls', '.frm')):\n\
                  \x20       continue\n\
                  \x20   lines = [l.strip() for l in code.splitlines()]\n\
                  \x20   lines = [l for l in lines if l and not l.startswith('Attribute ')][:2]\n\
                  \x20   if lines:\n\
                  \x20       print(stream.split('/')[-1] + ': ' + ' | '.join(lines))";
    python(script, file)
        .lines()
        .map(|line| {
            if line.chars().count() <= 80 {
                line.to_string()
            } else {
                format!("{}...", line.chars().take(77).collect::<String>())
            }
        })
        .collect()
}

/// The report's lines for a Macro's modules (those after the project's own line), checked
/// against olevba's reading of the original.
pub(crate) fn assert_macro_lines_match_olevba(run: &Run, original: &Path) {
    let expected = olevba_first_lines(original);
    let item = run
        .details()
        .details
        .iter()
        .find(|item| item.object_name == "Macro")
        .expect("a Macro item");
    let reported: Vec<&String> = item
        .object_details
        .iter()
        .filter(|line| !line.starts_with("VBA project") && !line.starts_with("Excel 4"))
        .collect();
    assert!(
        !expected.is_empty() && !reported.is_empty(),
        "{}: olevba {expected:?}, report {:?}",
        original.display(),
        item.object_details
    );
    for line in reported {
        assert!(
            expected.contains(line),
            "{}: {line:?} is not olevba's {expected:?}",
            original.display()
        );
    }
}

/// What the library of the document's kind reads from it: its text (python-docx), sheet names
/// (openpyxl) or slide count (python-pptx); `None` for the types those libraries do not open
/// (python-docx and python-pptx refuse templates and slide shows).
fn opened_by_python(file: &Path) -> Option<String> {
    let extension = file.extension().unwrap().to_string_lossy().to_string();
    let script = match extension.as_str() {
        "docx" => {
            "import sys, docx\nd = docx.Document(sys.argv[1])\n\
             print('|'.join(p.text for p in d.paragraphs))"
        }
        "xlsx" | "xltx" => {
            "import sys, openpyxl\nw = openpyxl.load_workbook(sys.argv[1])\n\
             print('|'.join(w.sheetnames))"
        }
        "pptx" => "import sys, pptx\np = pptx.Presentation(sys.argv[1])\nprint(len(p.slides))",
        _ => return None,
    };
    Some(python(script, file))
}

/// Converts the documents to PDF with headless LibreOffice in one run (at most 60 s per
/// document); returns the page count of each PDF (0 when none was written).
pub(crate) fn libreoffice_pages(files: &[PathBuf]) -> Vec<u32> {
    let dir = tempfile::tempdir().unwrap();
    let profile = format!("file://{}/profile", dir.path().display());
    let out = dir.path().join("pdf");
    let mut child = Command::new("soffice")
        .arg(format!("-env:UserInstallation={profile}"))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(&out)
        .args(files)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("LibreOffice is installed (scripts/test.sh installs it)");
    let limit = Duration::from_secs(30 + 60 * files.len() as u64);
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("LibreOffice took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    files
        .iter()
        .map(|file| {
            let pdf = out.join(file.with_extension("pdf").file_name().unwrap());
            if !pdf.exists() {
                return 0;
            }
            let info = Command::new("pdfinfo").arg(&pdf).output().unwrap();
            String::from_utf8_lossy(&info.stdout)
                .lines()
                .find_map(|line| line.strip_prefix("Pages:"))
                .and_then(|pages| pages.trim().parse().ok())
                .unwrap_or(0)
        })
        .collect()
}

fn removed_counts(run: &Run) -> BTreeMap<String, u64> {
    run.details()
        .details
        .iter()
        .filter(|item| item.action == CdrAction::Removed)
        .map(|item| (item.object_name.clone(), item.count))
        .collect()
}

/// Sanitizing the copy again removes nothing, and the same input gives the same bytes.
fn assert_stable(name: &str, original: &[u8], run: &Run) {
    let copy = run.output();
    let again = sanitize(name, copy, CdrPolicy::default());
    assert!(
        removed_counts(&again).is_empty(),
        "{name}: a sanitized copy sanitized again loses nothing: {:?}",
        again.details()
    );
    let twice = sanitize(name, original, CdrPolicy::default());
    assert_eq!(twice.output(), copy, "{name}: the same bytes every time");
}

#[test]
fn a_word_document_loses_every_active_part_and_still_opens() {
    let original = ooxml::word_active();
    let run = sanitize("report.docm", &original, CdrPolicy::default());
    let details = run.details();
    assert_eq!(
        details.result,
        SanitizationResult::Sanitized,
        "{details:#?}"
    );
    let expected: BTreeMap<String, u64> = ooxml::ACTIVE_REMOVALS
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    assert_eq!(removed_counts(&run), expected, "{details:#?}");
    assert_eq!(run.finding.outputs[0].name, "report_sanitized.docx");
    let nested = details
        .details
        .iter()
        .find(|item| item.object_name == "Embedded document")
        .expect("the embedded document is a nested item");
    assert_eq!(
        nested.file_name,
        "word/embeddings/Microsoft_Word_Document.docx"
    );
    assert_eq!(nested.details[0].object_name, "DDE field", "{nested:?}");
    assert!(
        details
            .details
            .iter()
            .any(|item| item.object_name == "Image" && item.action == CdrAction::Sanitized),
        "the picture is re-encoded: {details:?}"
    );

    let copy = run.output();
    let parts = all_parts(copy);
    for marker in ooxml::ACTIVE_MARKERS {
        assert_eq!(part_with(&parts, marker), None, "{marker} is left");
    }
    assert!(
        part_with(&parts, "https://example.com/").is_some(),
        "links stay"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.docx");
    std::fs::write(&file, copy).unwrap();
    let text = opened_by_python(&file).unwrap();
    for kept in ooxml::KEPT_TEXT {
        assert!(text.contains(kept), "{kept} stays: {text}");
    }
    assert!(!olevba_finds_macros(&file));
    assert!(msodde_links(&file).is_empty());
    assert!(libreoffice_pages(std::slice::from_ref(&file))[0] >= 1);
    assert_stable("report.docm", &original, &run);

    let keep_macros = CdrPolicy {
        remove: [(ActiveObject::Macro, false)].into(),
        ..CdrPolicy::default()
    };
    let run = sanitize("report.docm", &original, keep_macros);
    assert_eq!(
        run.finding.outputs[0].name, "report_sanitized.docm",
        "a document that keeps its macros keeps its type"
    );
    assert!(part_with(&ooxml::parts(run.output()), "VBA-PROJECT-PAYLOAD").is_some());
}

/// One oletools sample: what must be removed, and how many at least.
struct Case {
    file: &'static str,
    removed: &'static str,
    at_least: u64,
}

const CASES: &[Case] = &[
    Case {
        file: "oleform/oleform-PR314.docm",
        removed: "Macro",
        at_least: 1,
    },
    Case {
        file: "msodde/dde-test.docx",
        removed: "DDE field",
        at_least: 3,
    },
    Case {
        file: "msodde/dde-test.docm",
        removed: "DDE field",
        at_least: 3,
    },
    Case {
        file: "msodde/dde-test.xlsx",
        removed: "DDE field",
        at_least: 1,
    },
    Case {
        file: "msodde/dde-test.xlsm",
        removed: "DDE field",
        at_least: 1,
    },
    Case {
        file: "excel4-macros/excel4_sample_macro.xlsm",
        removed: "Macro",
        at_least: 1,
    },
    Case {
        file: "excel4-macros/excel4_sample_macro.xltm",
        removed: "Macro",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.docx",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.dotm",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.xlsx",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.xltm",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.pptx",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.ppsm",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/embedded-simple-2007.potx",
        removed: "Embedded OLE object",
        at_least: 1,
    },
    Case {
        file: "oleobj/external_link/sample_with_external_link_to_doc.docx",
        removed: "External reference",
        at_least: 1,
    },
    Case {
        file: "oleobj/external_link/sample_with_external_link_to_doc.xlsx",
        removed: "External reference",
        at_least: 1,
    },
    Case {
        file: "oleobj/external_link/sample_with_external_link_to_doc.pptm",
        removed: "External reference",
        at_least: 1,
    },
];

#[test]
fn the_oletools_office_samples_lose_their_objects_and_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for case in CASES {
        let original = oletools_data(case.file);
        let name = case.file.rsplit('/').next().unwrap();
        let run = sanitize(name, &original, CdrPolicy::default());
        let details = run.details();
        assert_eq!(
            details.result,
            SanitizationResult::Sanitized,
            "{}: {details:#?}",
            case.file
        );
        let removed = removed_counts(&run);
        assert!(
            removed
                .get(case.removed)
                .is_some_and(|n| *n >= case.at_least),
            "{}: {} {} expected: {details:#?}",
            case.file,
            case.at_least,
            case.removed
        );
        let output_name = &run.finding.outputs[0].name;
        let extension = output_name.rsplit('.').next().unwrap().to_string();
        assert!(
            !extension.ends_with('m'),
            "{}: a macro-free type ({output_name})",
            case.file
        );
        let copy = run.output();
        let parts = ooxml::parts(copy);
        let file = dir.path().join(output_name);
        std::fs::write(&file, copy).unwrap();
        let original_file = dir.path().join(name);
        std::fs::write(&original_file, &original).unwrap();
        match case.removed {
            "Macro" => {
                assert!(!olevba_finds_macros(&file), "{}", case.file);
                if olevba_finds_macros(&original_file) && !case.file.contains("excel4") {
                    assert_macro_lines_match_olevba(&run, &original_file);
                }
                for (part, data) in &parts {
                    let text = String::from_utf8_lossy(data);
                    assert!(
                        !part.contains("macrosheets/") && !text.contains("macrosheet+xml"),
                        "{}: {part}",
                        case.file
                    );
                }
            }
            "DDE field" => {
                assert!(!msodde_links(&original_file).is_empty(), "{}", case.file);
                assert_eq!(msodde_links(&file), Vec::<String>::new(), "{}", case.file);
            }
            "Embedded OLE object" => {
                assert!(oleobj_extracts(&original_file) > 0, "{}", case.file);
                assert_eq!(oleobj_extracts(&file), 0, "{}", case.file);
                for (part, _) in &parts {
                    assert!(!part.contains("oleObject"), "{}: {part} is left", case.file);
                }
            }
            _ => {
                for (part, data) in &parts {
                    let text = String::from_utf8_lossy(data);
                    for rel in text.split("<Relationship ").skip(1) {
                        assert!(
                            !rel.contains("TargetMode=\"External\"")
                                || rel.contains("/hyperlink\""),
                            "{}: {part} keeps {rel}",
                            case.file
                        );
                    }
                }
            }
        }
        // The library opens the copy (the script fails otherwise).
        let _ = opened_by_python(&file);
        assert_stable(name, &original, &run);
        copies.push(file);
    }
    let pages = libreoffice_pages(&copies);
    for (file, pages) in copies.iter().zip(pages) {
        assert!(pages >= 1, "LibreOffice converts {}", file.display());
    }
}

#[test]
fn a_workbook_loses_its_macro_sheet_with_the_names_and_formulas_that_used_it() {
    let original = oletools_data("excel4-macros/excel4_sample_macro.xlsm");
    let before: Vec<String> = ooxml::parts(&original)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(before.iter().any(|name| name.contains("macrosheets/")));
    let run = sanitize("macro.xlsm", &original, CdrPolicy::default());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("macro.xlsx");
    std::fs::write(&file, run.output()).unwrap();
    let workbook = ooxml::parts(run.output())
        .into_iter()
        .find(|(name, _)| name == "xl/workbook.xml")
        .map(|(_, data)| String::from_utf8(data).unwrap())
        .unwrap();
    assert!(!workbook.to_lowercase().contains("auto_open"), "{workbook}");
    assert_eq!(opened_by_python(&file).as_deref(), Some("Sheet1"));
}

#[test]
fn every_picture_of_a_report_is_re_encoded_in_its_place_and_stored_as_it_is() {
    // Six photos of six sizes, so a picture written into another's place shows.
    let sizes: Vec<(u32, u32)> = (0..6).map(|at| (40 + 8 * at, 30 + 2 * at)).collect();
    let parts: Vec<(String, Vec<u8>)> = ooxml::parts(&ooxml::word_report(60, sizes.len(), 8, 8))
        .into_iter()
        .map(|(name, data)| match name.strip_prefix("word/media/photo") {
            Some(rest) => {
                let at: usize = rest.trim_end_matches(".jpg").parse().unwrap();
                let (width, height) = sizes[at];
                let photo = images::photo(image::ImageFormat::Jpeg, width, height);
                (name, photo)
            }
            None => (name, data),
        })
        .collect();
    let files: Vec<(&str, Vec<u8>)> = parts
        .iter()
        .map(|(name, data)| (name.as_str(), data.clone()))
        .collect();
    let run = sanitize("report.docx", &ooxml::zip_of(&files), CdrPolicy::default());
    assert_eq!(run.details().result, SanitizationResult::Sanitized);
    assert_eq!(run.counts().get("Image"), Some(&(sizes.len() as u64)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.docx");
    std::fs::write(&file, run.output()).unwrap();
    // Python's zipfile and Pillow read each picture: its size and how the zip holds it.
    let seen = python(
        "import sys, zipfile, io\nfrom PIL import Image\nz = zipfile.ZipFile(sys.argv[1])\n\
         for i in z.infolist():\n    if i.filename.startswith('word/media/'):\n\
         \x20       w, h = Image.open(io.BytesIO(z.read(i))).size\n\
         \x20       print(i.filename, w, h, i.compress_type)\n\
         \x20   elif i.filename == 'word/document.xml':\n\
         \x20       print(i.filename, i.compress_type)",
        &file,
    );
    let mut expected: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(at, (width, height))| format!("word/media/photo{at}.jpg {width} {height} 0"))
        .collect();
    expected.insert(0, "word/document.xml 8".into());
    let mut seen: Vec<String> = seen.lines().map(str::to_string).collect();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "pictures stored (0), text deflated (8)");
    assert_stable("report.docx", &ooxml::zip_of(&files), &run);
}
