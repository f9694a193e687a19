//! The route table: every path the server answers declares who may call it. The gate in
//! `server.rs` looks each request up here before any handler runs, so a handler cannot
//! forget auth. A path missing from the table falls to the catch-all entries at the end,
//! which fail closed (admin with a full-access token); a test walks the table and proves
//! every protected entry refuses anonymous callers and tokens without the scope.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no credentials.
    Public,
    /// Open at the gate because the handler checks its own credential (setup code,
    /// bootstrap token, loopback-only recovery). Each such handler has its own tests.
    SelfAuth,
    /// Any authenticated caller; an API token also needs the scope, if one is named.
    User(Option<&'static str>),
    /// An authenticated administrator (proxy-auth users need the admin role).
    Admin(Option<&'static str>),
    /// Credential management: `Admin`, and while no authentication is configured at all,
    /// proof of owning the machine (the bootstrap token in `X-Setup-Token`, or a direct
    /// loopback connection) — so nobody on the network can claim a fresh install.
    Owner(Option<&'static str>),
}

impl Access {
    pub fn scope(self) -> Option<&'static str> {
        match self {
            Access::User(s) | Access::Admin(s) | Access::Owner(s) => s,
            Access::Public | Access::SelfAuth => None,
        }
    }
    pub fn is_protected(self) -> bool {
        !matches!(self, Access::Public | Access::SelfAuth)
    }
}

#[derive(Debug)]
pub struct Route {
    /// `GET` (also matches HEAD), `POST`, `PUT`, `PATCH`, `DELETE`, or `ANY`.
    pub method: &'static str,
    /// Literal segments, `{name}` for one segment, a final `*` for any remainder (even none).
    pub path: &'static str,
    pub access: Access,
}

const MON_R: Option<&str> = Some("monitoring:read");
const MON_W: Option<&str> = Some("monitoring:write");
const SET_R: Option<&str> = Some("settings:read");
const SET_W: Option<&str> = Some("settings:write");
const DOCKER_REPORT: Option<&str> = Some("docker:report");
const DOCKER_MANAGE: Option<&str> = Some("docker:manage");
const HOST_REPORT: Option<&str> = Some("host-agent:report");
const HOST_MANAGE: Option<&str> = Some("host-agent:manage");
/// Only a full-access token satisfies this: the scope of undeclared routes.
const ALL: Option<&str> = Some("*");

macro_rules! r {
    ($m:literal $p:literal => $a:expr) => {
        Route {
            method: $m,
            path: $p,
            access: $a,
        }
    };
}

use Access::*;

/// First match wins: specific entries before general ones.
pub static ROUTES: &[Route] = &[
    // --- public ---
    r!("GET" "/api/health" => Public),
    r!("GET" "/api/version" => Public),
    r!("GET" "/api/security/status" => Public),
    r!("POST" "/api/login" => Public),
    r!("GET" "/api/setup-script" => Public),
    r!("GET" "/api/agent/version" => Public),
    r!("GET" "/api/server/info" => Public),
    r!("GET" "/api/install/*" => Public),
    r!("GET" "/api/system/proxy-public-key" => Public),
    r!("GET" "/install-docker-agent.sh" => Public),
    r!("GET" "/install-container-agent.sh" => Public),
    r!("GET" "/install-host-agent.sh" => Public),
    r!("GET" "/install-host-agent.ps1" => Public),
    r!("GET" "/uninstall-host-agent.sh" => Public),
    r!("GET" "/uninstall-host-agent.ps1" => Public),
    r!("GET" "/download/*" => Public),
    // --- self-authenticating ---
    r!("POST" "/api/security/validate-bootstrap-token" => SelfAuth),
    r!("POST" "/api/security/quick-setup" => SelfAuth),
    r!("GET" "/api/security/recovery" => SelfAuth),
    r!("POST" "/api/security/recovery" => SelfAuth),
    r!("POST" "/api/auto-register" => SelfAuth),
    // --- security management ---
    r!("POST" "/api/logout" => User(None)),
    r!("POST" "/api/security/change-password" => Owner(SET_W)),
    r!("GET" "/api/security/tokens" => Admin(SET_R)),
    r!("POST" "/api/security/tokens" => Owner(SET_W)),
    r!("DELETE" "/api/security/tokens/{id}" => Owner(SET_W)),
    r!("POST" "/api/security/regenerate-token" => Owner(SET_W)),
    r!("POST" "/api/security/validate-token" => Admin(SET_W)),
    r!("POST" "/api/security/reset-lockout" => Owner(SET_W)),
    r!("GET" "/api/security/audit" => Admin(SET_R)),
    r!("POST" "/api/setup-script-url" => Admin(SET_W)),
    // --- monitoring data ---
    r!("GET" "/api/state" => User(MON_R)),
    r!("GET" "/api/charts" => User(MON_R)),
    r!("GET" "/api/storage-charts" => User(MON_R)),
    r!("GET" "/api/storage/*" => User(MON_R)),
    r!("GET" "/api/backups/*" => User(MON_R)),
    r!("GET" "/api/snapshots" => User(MON_R)),
    r!("GET" "/api/config" => User(MON_R)),
    r!("GET" "/simple-stats" => User(MON_R)),
    r!("GET" "/api/guests/metadata/*" => User(MON_R)),
    r!("ANY" "/api/guests/metadata/*" => User(MON_W)),
    r!("GET" "/api/docker/metadata/*" => User(MON_R)),
    r!("ANY" "/api/docker/metadata/*" => User(MON_W)),
    r!("GET" "/api/alerts/*" => User(MON_R)),
    r!("ANY" "/api/alerts/*" => User(MON_W)),
    // Admin like every notifications route (spec §6); tokens need the monitoring scopes.
    r!("GET" "/api/notifications/dlq" => Admin(MON_R)),
    r!("GET" "/api/notifications/queue/stats" => Admin(MON_R)),
    r!("POST" "/api/notifications/dlq/*" => Admin(MON_W)),
    r!("DELETE" "/api/notifications/dlq/*" => Admin(MON_W)),
    r!("GET" "/api/diagnostics" => User(None)),
    r!("ANY" "/api/discover" => User(None)),
    r!("GET" "/api/monitoring/scheduler/health" => User(None)),
    // --- agents ---
    r!("POST" "/api/agents/docker/report" => User(DOCKER_REPORT)),
    r!("POST" "/api/agents/docker/commands/{id}/ack" => User(DOCKER_REPORT)),
    r!("ANY" "/api/agents/docker/hosts/*" => User(DOCKER_MANAGE)),
    r!("POST" "/api/agents/host/report" => User(HOST_REPORT)),
    r!("ANY" "/api/agents/host/lookup" => User(HOST_REPORT)),
    r!("DELETE" "/api/agents/host/*" => User(HOST_MANAGE)),
    // --- settings, nodes, notifications, updates ---
    r!("GET" "/api/system/settings" => Admin(SET_R)),
    r!("POST" "/api/system/settings/update" => Admin(SET_W)),
    r!("GET" "/api/config/system" => Admin(SET_R)),
    r!("PUT" "/api/config/system" => Admin(SET_W)),
    r!("GET" "/api/config/nodes/*" => Admin(SET_R)),
    r!("ANY" "/api/config/nodes/*" => Admin(SET_W)),
    r!("GET" "/api/system/mock-mode" => Admin(SET_R)),
    r!("ANY" "/api/system/mock-mode" => Admin(SET_W)),
    r!("POST" "/api/config/export" => Admin(None)),
    r!("POST" "/api/config/import" => Admin(None)),
    r!("GET" "/api/notifications/*" => Admin(SET_R)),
    r!("ANY" "/api/notifications/*" => Admin(SET_W)),
    r!("POST" "/api/test-notification" => Admin(None)),
    r!("POST" "/api/updates/apply" => Admin(SET_W)),
    r!("GET" "/api/updates/*" => Admin(SET_R)),
    // --- live updates ---
    r!("GET" "/ws" => User(None)),
    r!("ANY" "/socket.io/*" => User(None)),
    // --- catch-alls: fail closed for anything not declared above ---
    r!("ANY" "/api/*" => Owner(ALL)),
    r!("ANY" "/ws/*" => Owner(ALL)),
    // The web UI: every other GET is a page or an asset.
    r!("GET" "/*" => Public),
    r!("ANY" "/*" => Owner(ALL)),
];

fn method_matches(route: &str, method: &str) -> bool {
    route == "ANY" || route == method || (route == "GET" && method == "HEAD")
}

/// Whether `path` matches the pattern (see `Route::path`). Case-sensitive like the router.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut pat = pattern.split('/').skip(1).peekable();
    let mut segs = path.split('/').skip(1).filter(|s| !s.is_empty());
    while let Some(p) = pat.next() {
        if p == "*" && pat.peek().is_none() {
            return true;
        }
        let Some(s) = segs.next() else {
            return false;
        };
        if !(p.starts_with('{') && p.ends_with('}')) && p != s {
            return false;
        }
    }
    segs.next().is_none()
}

/// The route entry for a request. Always finds one: the table ends in catch-alls.
pub fn lookup(method: &str, path: &str) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| method_matches(r.method, method) && path_matches(r.path, path))
        .unwrap_or(&ROUTES[ROUTES.len() - 1])
}

/// Counts for the docs and the report: (public, self-auth, user, admin, owner) and per scope.
pub fn counts() -> ([usize; 5], Vec<(&'static str, usize)>) {
    let mut c = [0; 5];
    let mut by_scope: Vec<(&'static str, usize)> = Vec::new();
    for r in ROUTES {
        let i = match r.access {
            Public => 0,
            SelfAuth => 1,
            User(_) => 2,
            Admin(_) => 3,
            Owner(_) => 4,
        };
        c[i] += 1;
        let s = r.access.scope().unwrap_or("(any token)");
        if r.access.is_protected() {
            match by_scope.iter_mut().find(|(k, _)| *k == s) {
                Some((_, n)) => *n += 1,
                None => by_scope.push((s, 1)),
            }
        }
    }
    (c, by_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(path_matches("/api/health", "/api/health"));
        assert!(path_matches("/api/health", "/api/health/"));
        assert!(!path_matches("/api/health", "/api/healthz"));
        assert!(!path_matches("/api/health", "/api/health/x"));
        assert!(path_matches("/api/storage/*", "/api/storage"));
        assert!(path_matches("/api/storage/*", "/api/storage/a/b"));
        assert!(path_matches(
            "/api/security/tokens/{id}",
            "/api/security/tokens/abc"
        ));
        assert!(!path_matches(
            "/api/security/tokens/{id}",
            "/api/security/tokens"
        ));
        assert!(path_matches("/*", "/"));
        assert!(!path_matches("/api/health", "/API/health"));
    }

    #[test]
    fn lookups_fail_closed() {
        assert_eq!(lookup("GET", "/api/health").access, Public);
        assert_eq!(lookup("HEAD", "/api/health").access, Public);
        assert_eq!(lookup("POST", "/api/health").access, Owner(ALL));
        assert_eq!(lookup("GET", "/api/brand-new-thing").access, Owner(ALL));
        assert_eq!(
            lookup("DELETE", "/api/security/tokens/x").access,
            Owner(SET_W)
        );
        assert_eq!(lookup("PUT", "/api/alerts/config").access, User(MON_W));
        assert_eq!(lookup("GET", "/api/alerts/active").access, User(MON_R));
        assert_eq!(lookup("GET", "/nodes/pve1").access, Public);
        assert_eq!(lookup("POST", "/nodes/pve1").access, Owner(ALL));
        assert_eq!(lookup("GET", "/ws").access, User(None));
        assert_eq!(lookup("GET", "/ws/other").access, Owner(ALL));
    }

    #[test]
    fn every_scope_named_is_canonical() {
        for r in ROUTES {
            if let Some(s) = r.access.scope() {
                assert!(
                    s == "*" || crate::auth::tokens::SCOPES.contains(&s),
                    "{} {} names unknown scope {s}",
                    r.method,
                    r.path
                );
            }
            assert!(r.path.starts_with('/'), "{}", r.path);
        }
        // Every entry is reachable: no earlier entry shadows it completely.
        for (i, r) in ROUTES.iter().enumerate() {
            let probe = r.path.replace("{id}", "x").replace('*', "x");
            let m = if r.method == "ANY" { "PATCH" } else { r.method };
            let hit = lookup(m, &probe);
            assert!(
                std::ptr::eq(hit, r) || i >= ROUTES.len() - 4 || r.method == "ANY",
                "{} {} is shadowed by {} {}",
                r.method,
                r.path,
                hit.method,
                hit.path
            );
        }
    }
}
