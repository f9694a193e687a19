//! What this build is and how it was installed: `pulse version` and `GET /api/version`.

use serde::Serialize;
use std::path::Path;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("PULSE_COMMIT");
pub const COMMIT_TIME: &str = env!("PULSE_COMMIT_TIME");

pub fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "development"
    } else {
        "release"
    }
}

/// Facts about the host that decide the deployment type; gathered once, testable as data.
#[derive(Debug, Default, Clone)]
pub struct HostFacts {
    pub docker_env_file: bool,
    pub pulse_docker_env: bool,
    pub cgroup_mentions_docker: bool,
    /// Content of `/bin/update` (written by the Proxmox helper-script / install.sh).
    pub bin_update: Option<String>,
    /// Content of `/etc/systemd/system/pulse-backend.service` or `pulse.service`.
    pub systemd_unit: Option<String>,
    pub invocation_id: bool,
    /// The binary was installed by pacman (an AUR package).
    pub pacman_owned: bool,
    pub exe_in_cargo_target: bool,
    pub container_runtime: Option<String>,
    pub hostname: Option<String>,
}

impl HostFacts {
    pub fn gather() -> HostFacts {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let exe = std::env::current_exe().ok();
        let pacman_owned = exe.as_deref() == Some(Path::new("/usr/bin/pulse"))
            && std::fs::read_dir("/var/lib/pacman/local")
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("pulse-"))
                })
                .unwrap_or(false);
        HostFacts {
            docker_env_file: Path::new("/.dockerenv").exists(),
            pulse_docker_env: std::env::var("PULSE_DOCKER")
                .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
                .unwrap_or(false),
            cgroup_mentions_docker: read("/proc/1/cgroup").is_some_and(|c| c.contains("docker")),
            bin_update: read("/bin/update"),
            systemd_unit: read("/etc/systemd/system/pulse-backend.service")
                .or_else(|| read("/etc/systemd/system/pulse.service")),
            invocation_id: std::env::var_os("INVOCATION_ID").is_some(),
            pacman_owned,
            exe_in_cargo_target: exe
                .as_deref()
                .is_some_and(|p| p.components().any(|c| c.as_os_str() == "target")),
            container_runtime: read("/run/systemd/container").map(|s| s.trim().to_string()),
            hostname: read("/etc/hostname").map(|s| s.trim().to_string()),
        }
    }

    pub fn is_docker(&self) -> bool {
        self.docker_env_file || self.pulse_docker_env || self.cgroup_mentions_docker
    }

    /// docker > proxmoxve (helper-script/install.sh install) > aur > systemd > development >
    /// manual. The reference never detects `aur`; we do, so its updater can refuse to
    /// self-update a pacman-owned binary.
    pub fn deployment_type(&self) -> &'static str {
        if self.is_docker() {
            return "docker";
        }
        if self
            .bin_update
            .as_deref()
            .is_some_and(|u| u.contains("pulse.sh") || u.contains("install.sh"))
        {
            return "proxmoxve";
        }
        if self.pacman_owned {
            return "aur";
        }
        if let Some(unit) = &self.systemd_unit
            && unit.contains("User=pulse")
            && unit.contains("/opt/pulse/bin/pulse")
        {
            return "proxmoxve";
        }
        if self.invocation_id || self.systemd_unit.is_some() {
            return "systemd";
        }
        if self.exe_in_cargo_target {
            return "development";
        }
        "manual"
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version: String,
    pub build: &'static str,
    pub build_time: &'static str,
    pub commit: &'static str,
    pub runtime: &'static str,
    /// Kept (empty) for clients that read the reference's field; this build has no Go.
    pub go_version: &'static str,
    pub channel: &'static str,
    pub deployment_type: &'static str,
    pub is_docker: bool,
    pub is_source_build: bool,
    pub is_development: bool,
    pub update_available: bool,
    pub latest_version: String,
    pub containerized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
}

impl VersionInfo {
    pub fn from_facts(f: &HostFacts) -> VersionInfo {
        let deployment_type = f.deployment_type();
        let containerized = f.is_docker() || f.container_runtime.is_some();
        VersionInfo {
            version: VERSION.to_string(),
            build: build_kind(),
            build_time: if COMMIT_TIME.is_empty() {
                build_kind()
            } else {
                COMMIT_TIME
            },
            commit: COMMIT,
            runtime: "rust",
            go_version: "",
            channel: if VERSION.contains("rc") {
                "rc"
            } else {
                "stable"
            },
            deployment_type,
            is_docker: deployment_type == "docker",
            is_source_build: deployment_type == "development",
            is_development: cfg!(debug_assertions),
            update_available: false,
            latest_version: VERSION.to_string(),
            containerized,
            container_id: containerized.then(|| f.hostname.clone()).flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_type_order() {
        let mut f = HostFacts::default();
        assert_eq!(f.deployment_type(), "manual");
        f.exe_in_cargo_target = true;
        assert_eq!(f.deployment_type(), "development");
        f.invocation_id = true;
        assert_eq!(f.deployment_type(), "systemd");
        f.systemd_unit = Some("[Service]\nUser=pulse\nExecStart=/opt/pulse/bin/pulse\n".into());
        assert_eq!(f.deployment_type(), "proxmoxve");
        f.systemd_unit = None;
        f.pacman_owned = true;
        assert_eq!(f.deployment_type(), "aur");
        f.bin_update = Some("bash -c \"$(curl -fsSL .../install.sh)\"".into());
        assert_eq!(f.deployment_type(), "proxmoxve");
        f.pulse_docker_env = true;
        assert_eq!(f.deployment_type(), "docker");
        let v = VersionInfo::from_facts(&f);
        assert!(v.is_docker && v.containerized);
        assert_eq!(v.runtime, "rust");
    }
}
