//! Member names as shown in reports: never a path that could point outside the archive.

/// A member's path made safe to display and to use as a relative name: backslashes become
/// slashes, empty, `.` and `..` components and control characters go, and at most 1,024
/// characters are kept. An empty result becomes `unnamed-<index>`.
pub fn sanitise(raw: &str, index: u32) -> String {
    let normalised = raw.replace('\\', "/");
    let parts: Vec<String> = normalised
        .split('/')
        .filter(|part| !part.is_empty() && *part != "." && *part != "..")
        .map(|part| part.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|part| !part.is_empty())
        .collect();
    let joined: String = parts.join("/").chars().take(1024).collect();
    // A Windows drive prefix ("C:") is as absolute as a leading slash.
    let joined = match joined.split_once(':') {
        Some((drive, rest)) if drive.len() == 1 && !rest.is_empty() => {
            rest.trim_start_matches('/').to_string()
        }
        _ => joined,
    };
    if joined.is_empty() {
        format!("unnamed-{index}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::sanitise;

    #[test]
    fn traversal_absolute_and_control_characters_are_removed() {
        assert_eq!(sanitise("../../etc/passwd", 0), "etc/passwd");
        assert_eq!(sanitise("/abs/path.txt", 0), "abs/path.txt");
        assert_eq!(sanitise("C:\\Windows\\evil.dll", 0), "Windows/evil.dll");
        assert_eq!(sanitise("a/./b/../c", 0), "a/b/c");
        assert_eq!(sanitise("bell\u{7}name\n.txt", 0), "bellname.txt");
        assert_eq!(sanitise("../..", 3), "unnamed-3");
        assert_eq!(sanitise("docs/report.pdf", 0), "docs/report.pdf");
    }
}
