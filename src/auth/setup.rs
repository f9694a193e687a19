//! Node setup codes and the setup scripts. A code is 16 random bytes (32 hex chars), kept
//! only as its SHA3-256 for 5 minutes, usable once, and bound to the node type and host it
//! was made for. The scripts create a read-only monitoring user on the Proxmox host (with an
//! API token on PVE/PBS; with a random password on PMG, whose API has no tokens for this)
//! and register it with Pulse through `/api/auto-register`.

use super::clock::Clock;
use crate::crypto::{random_hex, sha3_hex};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CODE_TTL_MS: u64 = 5 * 60 * 1000;
const MAX_CODES: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Pve,
    Pbs,
    Pmg,
}

impl NodeType {
    pub fn parse(s: &str) -> Option<NodeType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pve" => Some(NodeType::Pve),
            "pbs" => Some(NodeType::Pbs),
            "pmg" => Some(NodeType::Pmg),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Pve => "pve",
            NodeType::Pbs => "pbs",
            NodeType::Pmg => "pmg",
        }
    }
    fn default_port(self) -> u16 {
        match self {
            NodeType::Pbs => 8007,
            NodeType::Pve | NodeType::Pmg => 8006,
        }
    }
}

/// Normalises a node address to `scheme://host:port` (https and the type's port by
/// default). Refuses anything that is not a plain host: paths, credentials, spaces,
/// quotes, control characters — these values end up in shell scripts and configs.
pub fn normalize_host(t: NodeType, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 255 {
        return Err("host must be 1-255 characters".into());
    }
    let (scheme, rest) = if let Some(r) = raw.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = raw.strip_prefix("http://") {
        ("http", r)
    } else if raw.contains("://") {
        return Err("host must be an http(s) URL or a host name".into());
    } else {
        ("https", raw)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let rest_after = &rest[authority.len()..];
    if !rest_after.is_empty() && rest_after != "/" {
        return Err("host must not carry a path or query".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| "unterminated IPv6 address".to_string())?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("invalid IPv6 address".into());
        }
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let valid_name = !host.is_empty()
        && (host.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'));
    if !valid_name {
        return Err("host contains characters that are not allowed".into());
    }
    let port = match port {
        None => t.default_port(),
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err("invalid port".into()),
        },
    };
    Ok(format!("{scheme}://{}:{port}", host.to_ascii_lowercase()))
}

#[derive(Debug, Clone)]
struct Code {
    node_type: NodeType,
    host: Option<String>,
    expires_ms: u64,
    used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    Unknown,
    Expired,
    Used,
    WrongType,
    WrongHost,
}

pub struct SetupCodes {
    clock: Arc<dyn Clock>,
    codes: Mutex<HashMap<String, Code>>,
}

impl SetupCodes {
    pub fn new(clock: Arc<dyn Clock>) -> SetupCodes {
        SetupCodes {
            clock,
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// Mints a code; returns it (shown once) and its expiry (ms).
    pub fn create(&self, node_type: NodeType, host: Option<String>) -> (String, u64) {
        let now = self.clock.now_ms();
        let raw = random_hex::<16>();
        let expires_ms = now + CODE_TTL_MS;
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, c| c.expires_ms > now && !c.used);
        if codes.len() >= MAX_CODES {
            // Still bounded under a flood; the soonest to expire go first.
            if let Some(k) = codes
                .iter()
                .min_by_key(|(_, c)| c.expires_ms)
                .map(|(k, _)| k.clone())
            {
                codes.remove(&k);
            }
        }
        codes.insert(
            sha3_hex(raw.as_bytes()),
            Code {
                node_type,
                host,
                expires_ms,
                used: false,
            },
        );
        (raw, expires_ms)
    }

    /// Consumes a code for `node_type` and the normalised `host`. Single use: a code that
    /// matched is spent even if the caller fails later, so it can never be replayed.
    pub fn consume(&self, raw: &str, node_type: NodeType, host: &str) -> Result<(), CodeError> {
        if raw.is_empty() || raw.len() > 128 {
            return Err(CodeError::Unknown);
        }
        let key = sha3_hex(raw.trim().to_ascii_lowercase().as_bytes());
        let now = self.clock.now_ms();
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let c = codes.get_mut(&key).ok_or(CodeError::Unknown)?;
        if c.used {
            return Err(CodeError::Used);
        }
        if c.expires_ms <= now {
            return Err(CodeError::Expired);
        }
        if c.node_type != node_type {
            return Err(CodeError::WrongType);
        }
        if c.host.as_deref().is_some_and(|h| h != host) {
            return Err(CodeError::WrongHost);
        }
        c.used = true;
        Ok(())
    }
}

/// Single-quotes a value for bash (`'` becomes `'\''`).
fn sq(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

pub struct ScriptParams<'a> {
    pub node_type: NodeType,
    pub host: &'a str,
    pub pulse_url: &'a str,
    pub backup_perms: bool,
    pub setup_token: Option<&'a str>,
    pub token_name: &'a str,
}

/// The setup script for a node type. All interpolated values were validated by the caller
/// and are single-quoted here as well.
pub fn script(p: &ScriptParams) -> String {
    let head = format!(
        "#!/usr/bin/env bash\n\
# Pulse setup script for {kind}: creates a read-only monitoring user (and its API token,\n\
# or on PMG its password) on this host and registers it with Pulse. Run as root.\n\
# To undo: curl -sSL '<url>' | bash -s remove\n\
#   curl -sSL '<url>' | PULSE_SETUP_TOKEN=<code> bash\n\
set -euo pipefail\n\
PULSE_URL={pulse}\n\
NODE_URL={host}\n\
TOKEN_NAME={name}\n\
BACKUP_PERMS={backup}\n\
SETUP_TOKEN=\"${{PULSE_SETUP_TOKEN:-{code}}}\"\n\
ACTION=\"${{1:-install}}\"\n\
\n\
die() {{ echo \"pulse-setup: $*\" >&2; exit 1; }}\n\
[ \"$(id -u)\" -eq 0 ] || die \"run this as root\"\n\
\n\
# register TYPE ID SECRET: ID/SECRET are a token id and value, or (pmg) a user and password.\n\
# The JSON goes to curl on stdin, so the secret never shows in the process list.\n\
register() {{\n\
  local type=\"$1\" token_id=\"$2\" secret=\"$3\" id_key=tokenId secret_key=tokenValue\n\
  if [ \"$type\" = pmg ]; then id_key=user; secret_key=password; fi\n\
  if [ -z \"$SETUP_TOKEN\" ] && [ -r /dev/tty ]; then\n\
    read -rsp 'Pulse setup code (from Settings > Nodes): ' SETUP_TOKEN </dev/tty || true\n\
    echo\n\
  fi\n\
  case \"$SETUP_TOKEN\" in\n\
    ''|*[!0-9A-Fa-f]*) echo \"No valid setup code: add the node in Pulse by hand with $id_key $token_id and $secret_key $secret\"; return 0 ;;\n\
  esac\n\
  local server; server=\"$(hostname -s | tr -cd 'A-Za-z0-9._-')\"\n\
  local body\n\
  body=$(printf '{{\"type\":\"%s\",\"host\":\"%s\",\"serverName\":\"%s\",\"%s\":\"%s\",\"%s\":\"%s\",\"authToken\":\"%s\"}}' \\\n\
    \"$type\" \"$NODE_URL\" \"$server\" \"$id_key\" \"$token_id\" \"$secret_key\" \"$secret\" \"$SETUP_TOKEN\")\n\
  if curl -fsS -m 30 -X POST -H 'Content-Type: application/json' --data @- \"$PULSE_URL/api/auto-register\" >/dev/null <<<\"$body\"; then\n\
    echo \"Registered with Pulse at $PULSE_URL\"\n\
  else\n\
    echo \"Registration failed: add the node in Pulse by hand with $id_key $token_id and $secret_key $secret\" >&2\n\
    return 1\n\
  fi\n\
}}\n\n",
        kind = match p.node_type {
            NodeType::Pve => "Proxmox VE",
            NodeType::Pbs => "Proxmox Backup Server",
            NodeType::Pmg => "Proxmox Mail Gateway",
        },
        pulse = sq(p.pulse_url),
        host = sq(p.host),
        name = sq(p.token_name),
        backup = sq(if p.backup_perms { "true" } else { "false" }),
        code = p.setup_token.unwrap_or(""),
    );
    let body = match p.node_type {
        NodeType::Pve => PVE_BODY,
        NodeType::Pbs => PBS_BODY,
        NodeType::Pmg => PMG_BODY,
    };
    format!("{head}{body}")
}

const PVE_BODY: &str = r#"command -v pveum >/dev/null 2>&1 || die "pveum not found: run this on a Proxmox VE host"
USER_ID='pulse-monitor@pam'
if [ "$ACTION" = remove ]; then
  pveum user delete "$USER_ID" 2>/dev/null && echo "Removed $USER_ID and its tokens" || echo "$USER_ID was not present"
  pveum role delete PulseMonitor 2>/dev/null || true
  exit 0
fi
pveum user add "$USER_ID" --comment 'Pulse monitoring' 2>/dev/null || true
pveum user token remove "$USER_ID" "$TOKEN_NAME" 2>/dev/null || true
OUT=$(pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 0 --output-format json)
SECRET=$(printf '%s' "$OUT" | sed -n 's/.*"value"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
[ -n "$SECRET" ] || die "could not read the new token's value"
pveum aclmod / -user "$USER_ID" -role PVEAuditor
if [ "$BACKUP_PERMS" = true ]; then
  pveum aclmod /storage -user "$USER_ID" -role PVEDatastoreAdmin
fi
# PVE 9 renamed the guest-agent privilege; grant whichever this version knows.
PRIVS='Sys.Audit'
if pveum role list --output-format json 2>/dev/null | grep -q 'VM.GuestAgent.Audit'; then
  PRIVS="$PRIVS,VM.GuestAgent.Audit"
else
  PRIVS="$PRIVS,VM.Monitor"
fi
pveum role add PulseMonitor -privs "$PRIVS" 2>/dev/null || pveum role modify PulseMonitor -privs "$PRIVS"
pveum aclmod / -user "$USER_ID" -role PulseMonitor
echo "Created token $USER_ID!$TOKEN_NAME"
register pve "$USER_ID!$TOKEN_NAME" "$SECRET"
"#;

const PBS_BODY: &str = r#"command -v proxmox-backup-manager >/dev/null 2>&1 || die "proxmox-backup-manager not found: run this on a Proxmox Backup Server"
USER_ID='pulse-monitor@pbs'
if [ "$ACTION" = remove ]; then
  proxmox-backup-manager user remove "$USER_ID" 2>/dev/null && echo "Removed $USER_ID" || echo "$USER_ID was not present"
  exit 0
fi
proxmox-backup-manager user create "$USER_ID" --comment 'Pulse monitoring' 2>/dev/null || true
proxmox-backup-manager user delete-token "$USER_ID" "$TOKEN_NAME" 2>/dev/null || true
OUT=$(proxmox-backup-manager user generate-token "$USER_ID" "$TOKEN_NAME" --output-format json)
SECRET=$(printf '%s' "$OUT" | sed -n 's/.*"value"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
[ -n "$SECRET" ] || die "could not read the new token's value"
proxmox-backup-manager acl update / Audit --auth-id "$USER_ID"
proxmox-backup-manager acl update / Audit --auth-id "$USER_ID!$TOKEN_NAME"
echo "Created token $USER_ID!$TOKEN_NAME"
register pbs "$USER_ID!$TOKEN_NAME" "$SECRET"
"#;

/// PMG has no API tokens for this, so the script gives `pulse-monitor@pmg` (role `audit`,
/// read-only) a fresh random password on every run and sends that; re-running rotates it.
const PMG_BODY: &str = r#"command -v pmgsh >/dev/null 2>&1 && command -v pmgversion >/dev/null 2>&1 \
  || die "pmgsh/pmgversion not found: run this on a Proxmox Mail Gateway"
USER_ID='pulse-monitor@pmg'
if [ "$ACTION" = remove ]; then
  pmgsh delete "/access/users/$USER_ID" >/dev/null 2>&1 && echo "Removed $USER_ID" || echo "$USER_ID was not present"
  exit 0
fi
# 128 random bits as 32 hex characters: PMG takes passwords of 5 to 32 characters.
# (od reads a fixed count, so no pipe that SIGPIPE could fail.)
PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
[ "${#PASSWORD}" -eq 32 ] || die "could not make a random password"
if pmgsh get "/access/users/$USER_ID" >/dev/null 2>&1; then
  pmgsh set "/access/users/$USER_ID" --role audit --enable 1 --password "$PASSWORD" >/dev/null
  echo "Updated $USER_ID (role audit, new password)"
else
  pmgsh create /access/users --userid "$USER_ID" --role audit --enable 1 \
    --comment 'Pulse monitoring' --password "$PASSWORD" >/dev/null
  echo "Created $USER_ID (role audit)"
fi
register pmg "$USER_ID" "$PASSWORD"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::clock::ManualClock;

    #[test]
    fn host_normalisation() {
        let n = |t, h| normalize_host(t, h);
        assert_eq!(
            n(NodeType::Pve, "pve1.lan").unwrap(),
            "https://pve1.lan:8006"
        );
        assert_eq!(
            n(NodeType::Pbs, "https://PBS:8007/").unwrap(),
            "https://pbs:8007"
        );
        assert_eq!(
            n(NodeType::Pve, "http://10.0.0.2:8443").unwrap(),
            "http://10.0.0.2:8443"
        );
        assert_eq!(
            n(NodeType::Pve, "https://[fe80::1]").unwrap(),
            "https://[fe80::1]:8006"
        );
        for bad in [
            "",
            "https://h/path",
            "https://user:pw@h",
            "h;rm -rf /",
            "h'x",
            "h\nx",
            "ftp://h",
            "h:99999",
            "https://[zz]",
        ] {
            assert!(n(NodeType::Pve, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_are_single_use_bound_and_expire() {
        let clock = Arc::new(ManualClock::new(0));
        let sc = SetupCodes::new(clock.clone());
        let host = "https://pve1:8006";
        let (code, exp) = sc.create(NodeType::Pve, Some(host.into()));
        assert_eq!(code.len(), 32);
        assert_eq!(exp, CODE_TTL_MS);
        assert_eq!(
            sc.consume(&code, NodeType::Pbs, host),
            Err(CodeError::WrongType)
        );
        assert_eq!(
            sc.consume(&code, NodeType::Pve, "https://other:8006"),
            Err(CodeError::WrongHost)
        );
        assert_eq!(sc.consume(&code, NodeType::Pve, host), Ok(()));
        assert_eq!(sc.consume(&code, NodeType::Pve, host), Err(CodeError::Used));
        assert_eq!(
            sc.consume("deadbeef", NodeType::Pve, host),
            Err(CodeError::Unknown)
        );
        let (code, _) = sc.create(NodeType::Pbs, None);
        clock.advance_secs(5 * 60);
        assert_eq!(
            sc.consume(&code, NodeType::Pbs, "https://x:8007"),
            Err(CodeError::Expired)
        );
    }

    #[test]
    fn script_quotes_values() {
        let s = script(&ScriptParams {
            node_type: NodeType::Pve,
            host: "https://pve1:8006",
            pulse_url: "http://pulse.lan:7655",
            backup_perms: true,
            setup_token: Some("0123abcd"),
            token_name: "pulse-pulse-lan-1700000000",
        });
        assert!(s.starts_with("#!/usr/bin/env bash"));
        assert!(s.contains("PULSE_URL='http://pulse.lan:7655'"));
        assert!(s.contains("BACKUP_PERMS='true'"));
        assert!(s.contains("${PULSE_SETUP_TOKEN:-0123abcd}"));
        assert!(s.contains("pveum user token add"));
        assert_eq!(sq("a'b"), r"'a'\''b'");
        let s = script(&ScriptParams {
            node_type: NodeType::Pbs,
            host: "https://pbs:8007",
            pulse_url: "http://p:7655",
            backup_perms: false,
            setup_token: None,
            token_name: "t",
        });
        assert!(s.contains("proxmox-backup-manager user generate-token"));
        let s = script(&ScriptParams {
            node_type: NodeType::Pmg,
            host: "https://pmg:8006",
            pulse_url: "http://p:7655",
            backup_perms: false,
            setup_token: None,
            token_name: "t",
        });
        assert!(s.contains("NODE_URL='https://pmg:8006'"));
        assert!(s.contains("pmgsh create /access/users"));
        assert!(s.contains("register pmg"));
        assert!(!s.contains("generate-token") && !s.contains("pveum"));
    }
}
