//! The outbound URL guard (spec §3.2), applied on create, update, test and before every
//! send (and to each redirect target): only http(s), no cloud metadata endpoints, and no
//! loopback, link-local or private addresses unless the operator allow-listed them
//! (system setting `webhookAllowedPrivateCIDRs` or env `PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS`).

use ipnet::IpNet;
use std::net::{IpAddr, ToSocketAddrs};

const METADATA_HOSTS: &[&str] = &[
    "169.254.169.254",
    "metadata.google.internal",
    "metadata.goog",
];

fn private_nets() -> Vec<IpNet> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "100.64.0.0/10",
        "::1/128",
        "::/128",
        "fe80::/10",
        "fc00::/7",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect()
}

/// Checks `url` and returns the parsed form. `allow` lists private networks the operator
/// trusts. DNS is resolved here; every address must pass.
pub fn check(url: &str, allow: &[IpNet]) -> Result<http::Uri, String> {
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|e| format!("invalid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err("URL must use http or https".into()),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "URL has no host".to_string())?;
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if METADATA_HOSTS.contains(&bare.as_str()) {
        return Err(format!("{bare} is a cloud metadata endpoint"));
    }
    let allowed = |ip: IpAddr| allow.iter().any(|n| n.contains(&ip));
    let private = private_nets();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let ips: Vec<IpAddr> = if bare == "localhost" || bare.ends_with(".localhost") {
        vec![
            IpAddr::from([127, 0, 0, 1]),
            "::1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
        ]
    } else if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![ip]
    } else {
        (bare.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {bare}: {e}"))?
            .map(|a| a.ip())
            .collect()
    };
    if ips.is_empty() {
        return Err(format!("cannot resolve {bare}"));
    }
    for ip in ips {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(format!(
                "{bare} resolves to {ip}, which is not a valid target"
            ));
        }
        if private.iter().any(|n| n.contains(&ip)) && !allowed(ip) {
            return Err(format!(
                "{bare} resolves to private, loopback or link-local address {ip}; allow it with webhookAllowedPrivateCIDRs"
            ));
        }
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_refuses_loopback_link_local_private_and_metadata() {
        for u in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://169.254.1.1/",
            "http://[fe80::1]/",
            "http://10.1.2.3/",
            "http://192.168.1.10/",
            "http://172.20.0.1/",
            "http://[fd00::1]/",
            "http://metadata.google.internal/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "not a url",
            "http:///nohost",
        ] {
            assert!(check(u, &[]).is_err(), "{u} must be refused");
        }
    }

    #[test]
    fn allowlist_opens_only_what_it_names() {
        let allow: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(check("http://127.0.0.1:8080/hook", &allow).is_ok());
        assert!(check("http://127.0.0.2:8080/hook", &allow).is_err());
        // Metadata stays refused whatever the allowlist says.
        let wide: Vec<IpNet> = vec!["169.254.0.0/16".parse().unwrap()];
        assert!(check("http://169.254.169.254/", &wide).is_err());
        assert!(
            check("http://8.8.8.8/", &[]).is_ok(),
            "public literal needs no DNS"
        );
    }
}
