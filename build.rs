//! Records the commit and its time so `pulse version` and `/api/version` can name the build.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // The commit time, not the wall clock, so that two builds of one commit say the same.
    let time = git(&["log", "-1", "--format=%cI"]).unwrap_or_default();
    println!("cargo:rustc-env=PULSE_COMMIT={commit}");
    println!("cargo:rustc-env=PULSE_COMMIT_TIME={time}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
