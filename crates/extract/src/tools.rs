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

/// Up to 64 KiB of what the helper wrote to its standard error.
pub(crate) fn stderr_of(helper: &mut Helper) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(err) = helper.0.stderr.take() {
        let _ = err.take(64 << 10).read_to_string(&mut text);
    }
    text
}
