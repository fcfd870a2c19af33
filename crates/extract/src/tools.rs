//! What the decoders that run as programs of their own share: finding them, starting them with
//! no input, and killing them when extraction stops early.

use std::process::{Child, Command, Stdio};

/// Kills the helper if it is still running when dropped.
pub(crate) struct Helper(pub(crate) Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `name` is an executable file on `PATH`.
pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// A command for `name` that reads nothing and whose errors are captured.
pub(crate) fn tool(name: &str) -> Command {
    let mut command = Command::new(name);
    command.stdin(Stdio::null()).stderr(Stdio::piped());
    command
}

/// What a helper that lists an archive wrote: its listing (at most `max` bytes, else the
/// archive is refused), its error text, and how it exited.
pub(crate) fn read_listing(
    helper: &mut Helper,
    max: u64,
    format: crate::Format,
) -> Result<(Vec<u8>, String, std::process::ExitStatus), crate::ExtractError> {
    use std::io::Read;
    let mut text = Vec::new();
    helper
        .0
        .stdout
        .take()
        .expect("piped")
        .take(max + 1)
        .read_to_end(&mut text)?;
    let stderr = stderr_of(helper);
    let status = helper.0.wait()?;
    if text.len() as u64 > max {
        return Err(crate::ExtractError::Corrupt(format!(
            "{format:?} listing is too large"
        )));
    }
    Ok((text, stderr, status))
}

/// Up to 64 KiB of what the helper wrote to its standard error.
pub(crate) fn stderr_of(helper: &mut Helper) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(err) = helper.0.stderr.take() {
        let _ = err.take(64 << 10).read_to_string(&mut text);
    }
    text
}
