//! Query-string filters shared by the live-data views (`/api/backups*`, `/api/snapshots`,
//! `/api/storage`). Strict on purpose: an unknown parameter or a malformed value is a 400
//! naming the parameter, so a typo never silently returns everything.

use super::error::ApiError;

/// Splits `a=1&b=x%20y` into decoded pairs (`+` is a space, as in forms).
pub fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// What a view may be narrowed to. `None` = no filter.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LiveFilter {
    pub instance: Option<String>,
    pub node: Option<String>,
    pub vmid: Option<u32>,
    /// `qemu` or `lxc` (PBS groups: `vm`/`ct` match these too).
    pub kind: Option<String>,
}

fn bad(param: &str, message: &str) -> ApiError {
    let mut e = ApiError::bad_request(format!("Invalid query parameter {param}: {message}"));
    e.fields = vec![(param.to_string(), message.to_string())];
    e
}

impl LiveFilter {
    /// Parses `instance`, `node`, `vmid`, `type`; only the names in `allowed` are accepted.
    pub fn parse(q: &str, allowed: &[&str]) -> Result<LiveFilter, ApiError> {
        let mut f = LiveFilter::default();
        for (k, v) in pairs(q) {
            if !allowed.contains(&k.as_str()) {
                return Err(bad(
                    &k,
                    &format!("unknown parameter (accepted: {})", allowed.join(", ")),
                ));
            }
            let v = v.trim().to_string();
            if v.is_empty() || v.len() > 256 {
                return Err(bad(
                    &k,
                    "must be a non-empty value of at most 256 characters",
                ));
            }
            match k.as_str() {
                "instance" => f.instance = Some(v),
                "node" => f.node = Some(v),
                "vmid" => {
                    f.vmid = Some(
                        v.parse::<u32>()
                            .map_err(|_| bad("vmid", "must be a whole number"))?,
                    )
                }
                "type" => {
                    if !matches!(v.as_str(), "qemu" | "lxc") {
                        return Err(bad("type", "must be qemu or lxc"));
                    }
                    f.kind = Some(v);
                }
                _ => {}
            }
        }
        Ok(f)
    }

    pub fn instance_ok(&self, instance: &str) -> bool {
        self.instance.as_deref().is_none_or(|i| i == instance)
    }

    pub fn node_ok(&self, node: &str) -> bool {
        self.node.as_deref().is_none_or(|n| n == node)
    }

    pub fn vmid_ok(&self, vmid: u32) -> bool {
        self.vmid.is_none_or(|v| v == vmid)
    }

    pub fn kind_ok(&self, kind: &str) -> bool {
        let kind = match kind {
            "vm" => "qemu",
            "ct" => "lxc",
            k => k,
        };
        self.kind.as_deref().is_none_or(|k| k == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &["instance", "node", "vmid", "type"];

    #[test]
    fn parses_and_names_bad_parameters() {
        let f = LiveFilter::parse("instance=lab%201&vmid=101&type=lxc", ALL).unwrap();
        assert_eq!(f.instance.as_deref(), Some("lab 1"));
        assert_eq!(f.vmid, Some(101));
        assert!(f.kind_ok("ct") && !f.kind_ok("qemu"));
        for (q, name) in [
            ("vmid=abc", "vmid"),
            ("vmid=-1", "vmid"),
            ("type=docker", "type"),
            ("nodes=pve1", "nodes"),
            ("node=", "node"),
        ] {
            let e = LiveFilter::parse(q, ALL).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(name), "{q}: {}", e.message);
        }
        assert!(LiveFilter::parse("vmid=1", &["node"]).is_err());
        assert_eq!(LiveFilter::parse("", ALL).unwrap(), LiveFilter::default());
    }
}
