#!/usr/bin/env bash
# Pulse installer for a Debian/Ubuntu host or Proxmox LXC (run as root):
#   curl -fsSL <url>/install.sh | bash                       # binary from PULSE_BINARY_URL
#   bash install.sh --binary ./target/release/pulse          # a binary you built or downloaded
# Installs /opt/pulse/bin/pulse, a `pulse` system user, data dir /etc/pulse (0700) and the
# systemd unit pulse.service, then starts it on port 7655 (FRONTEND_PORT to change).
set -euo pipefail

BINARY="" ; URL="${PULSE_BINARY_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY="$2"; shift 2 ;;
    --url) URL="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
command -v systemctl >/dev/null || { echo "install.sh: systemd is required" >&2; exit 1; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ -n "$BINARY" ]; then
  cp "$BINARY" "$tmp/pulse"
elif [ -n "$URL" ]; then
  case "$URL" in https://*) ;; *) echo "install.sh: refusing non-https URL $URL" >&2; exit 1 ;; esac
  curl -fsSL --proto '=https' -o "$tmp/pulse" "$URL"
  if [ -n "${PULSE_BINARY_SHA256:-}" ]; then
    echo "$PULSE_BINARY_SHA256  $tmp/pulse" | sha256sum -c - >/dev/null \
      || { echo "install.sh: checksum mismatch" >&2; exit 1; }
  fi
else
  echo "install.sh: give --binary PATH or --url/PULSE_BINARY_URL (https)" >&2; exit 2
fi
chmod 755 "$tmp/pulse"
"$tmp/pulse" version >/dev/null || { echo "install.sh: the binary does not run here" >&2; exit 1; }

id pulse >/dev/null 2>&1 || useradd --system --home-dir /etc/pulse --shell /usr/sbin/nologin pulse
install -d -m 755 /opt/pulse/bin
install -d -m 700 -o pulse -g pulse /etc/pulse
install -m 755 "$tmp/pulse" /opt/pulse/bin/pulse.new && mv /opt/pulse/bin/pulse.new /opt/pulse/bin/pulse

unit_src="$(dirname "$0")/packaging/pulse.service"
if [ -f "$unit_src" ]; then
  install -m 644 "$unit_src" /etc/systemd/system/pulse.service
else
  cat > /etc/systemd/system/pulse.service <<'UNIT'
[Unit]
Description=Pulse monitoring for Proxmox VE, PBS, PMG and Docker
After=network-online.target
Wants=network-online.target
[Service]
User=pulse
Group=pulse
Environment=PULSE_DATA_DIR=/etc/pulse
EnvironmentFile=-/etc/pulse/.env
ExecStart=/opt/pulse/bin/pulse serve
Restart=on-failure
TimeoutStopSec=40
NoNewPrivileges=true
[Install]
WantedBy=multi-user.target
UNIT
fi
systemctl daemon-reload
systemctl enable --now pulse.service
echo "Pulse is running: http://$(hostname -I 2>/dev/null | awk '{print $1}'):${FRONTEND_PORT:-7655}"
