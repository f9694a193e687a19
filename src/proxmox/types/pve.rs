//! Raw types of the Proxmox VE API.

use super::Verification;
use crate::proxmox::de;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// `GET /version`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Version {
    #[serde(deserialize_with = "de::string")]
    pub version: String,
    #[serde(deserialize_with = "de::string")]
    pub release: String,
    #[serde(deserialize_with = "de::string")]
    pub repoid: String,
}

/// One entry of `GET /nodes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeListItem {
    #[serde(deserialize_with = "de::string")]
    pub node: String,
    /// `online`, `offline` or `unknown`
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    /// fraction 0..1
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    /// logical CPUs
    #[serde(deserialize_with = "de::u64")]
    pub maxcpu: u64,
    #[serde(deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxmem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxdisk: u64,
    /// seconds
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    /// subscription level
    #[serde(deserialize_with = "de::string")]
    pub level: String,
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub ssl_fingerprint: String,
}

/// Memory block of `GET /nodes/{node}/status` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeMemory {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub free: u64,
    #[serde(deserialize_with = "de::u64")]
    pub available: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
    #[serde(deserialize_with = "de::u64")]
    pub buffers: u64,
    #[serde(deserialize_with = "de::u64")]
    pub cached: u64,
    #[serde(deserialize_with = "de::u64")]
    pub shared: u64,
}

/// Root filesystem of `GET /nodes/{node}/status` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeRootfs {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
    #[serde(deserialize_with = "de::u64")]
    pub free: u64,
}

/// `cpuinfo` of `GET /nodes/{node}/status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CpuInfo {
    #[serde(deserialize_with = "de::string")]
    pub model: String,
    #[serde(deserialize_with = "de::u64")]
    pub cores: u64,
    #[serde(deserialize_with = "de::u64")]
    pub sockets: u64,
    #[serde(deserialize_with = "de::u64")]
    pub cpus: u64,
    /// sent as string or number; kept as text
    #[serde(deserialize_with = "de::string")]
    pub mhz: String,
    #[serde(deserialize_with = "de::string")]
    pub hvm: String,
}

/// `GET /nodes/{node}/status`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    #[serde(deserialize_with = "de::f64")]
    pub wait: f64,
    #[serde(deserialize_with = "de::f64")]
    pub idle: f64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    #[serde(deserialize_with = "de::string")]
    pub kversion: String,
    #[serde(deserialize_with = "de::string")]
    pub pveversion: String,
    /// sent as strings or numbers
    #[serde(deserialize_with = "de::f64_list")]
    pub loadavg: Vec<f64>,
    #[serde(deserialize_with = "de::nullable")]
    pub memory: NodeMemory,
    #[serde(deserialize_with = "de::nullable")]
    pub swap: NodeMemory,
    #[serde(deserialize_with = "de::nullable")]
    pub rootfs: NodeRootfs,
    #[serde(deserialize_with = "de::nullable")]
    pub cpuinfo: CpuInfo,
    /// PVE 8.2+
    #[serde(rename = "current-kernel")]
    pub current_kernel: serde_json::Value,
    /// PVE 8+
    #[serde(rename = "boot-info")]
    pub boot_info: serde_json::Value,
}

/// One point of `GET .../rrddata` (node, qemu, lxc). Keys are omitted for gaps.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RrdPoint {
    #[serde(deserialize_with = "de::i64")]
    pub time: i64,
    #[serde(deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub mem: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub maxmem: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub memused: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub memtotal: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub memavailable: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub memhost: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub disk: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub maxdisk: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub diskread: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub diskwrite: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub netin: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub netout: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub loadavg: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub iowait: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub swapused: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub swaptotal: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub rootused: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub roottotal: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub arcsize: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressurecpusome: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressurecpufull: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressureiosome: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressureiofull: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressurememorysome: Option<f64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub pressurememoryfull: Option<f64>,
}

/// One entry of `GET /storage` (cluster storage configuration).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    #[serde(deserialize_with = "de::string")]
    pub storage: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    /// comma-separated
    #[serde(deserialize_with = "de::string")]
    pub content: String,
    #[serde(deserialize_with = "de::bool")]
    pub shared: bool,
    #[serde(deserialize_with = "de::bool")]
    pub disable: bool,
    /// comma-separated node restriction
    #[serde(deserialize_with = "de::string")]
    pub nodes: String,
    #[serde(deserialize_with = "de::string")]
    pub path: String,
    #[serde(deserialize_with = "de::string")]
    pub pool: String,
    #[serde(deserialize_with = "de::string")]
    pub mountpoint: String,
    #[serde(deserialize_with = "de::string")]
    pub is_mountpoint: String,
    #[serde(deserialize_with = "de::string")]
    pub server: String,
    #[serde(deserialize_with = "de::string")]
    pub datastore: String,
}

/// One entry of `GET /nodes/{node}/storage` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeStorage {
    #[serde(deserialize_with = "de::string")]
    pub storage: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub content: String,
    #[serde(deserialize_with = "de::bool")]
    pub active: bool,
    #[serde(deserialize_with = "de::bool")]
    pub enabled: bool,
    #[serde(deserialize_with = "de::bool")]
    pub shared: bool,
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub avail: u64,
    #[serde(deserialize_with = "de::f64")]
    pub used_fraction: f64,
}

/// One entry of `GET /nodes/{node}/disks/list`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DiskListItem {
    #[serde(deserialize_with = "de::string")]
    pub devpath: String,
    #[serde(deserialize_with = "de::string")]
    pub model: String,
    #[serde(deserialize_with = "de::string")]
    pub serial: String,
    /// hdd, ssd, nvme, usb, unknown
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub health: String,
    /// percent of life left; `None` for "N/A"
    #[serde(deserialize_with = "de::opt_f64")]
    pub wearout: Option<f64>,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    /// 0 for SSDs ("ssd"/"n/a" strings)
    #[serde(deserialize_with = "de::u64")]
    pub rpm: u64,
    #[serde(deserialize_with = "de::string")]
    pub used: String,
    #[serde(deserialize_with = "de::string")]
    pub vendor: String,
    #[serde(deserialize_with = "de::string")]
    pub wwn: String,
    #[serde(deserialize_with = "de::bool")]
    pub gpt: bool,
    #[serde(deserialize_with = "de::i64")]
    pub osdid: i64,
    #[serde(rename = "osdid-list", deserialize_with = "de::nullable")]
    pub osdid_list: Vec<i64>,
}

/// One ATA attribute of `GET /nodes/{node}/disks/smart`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SmartAttribute {
    /// right-aligned string ("  1") on real servers
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::u64")]
    pub value: u64,
    #[serde(deserialize_with = "de::u64")]
    pub worst: u64,
    #[serde(deserialize_with = "de::u64")]
    pub threshold: u64,
    #[serde(deserialize_with = "de::u64")]
    pub normalized: u64,
    #[serde(deserialize_with = "de::string")]
    pub raw: String,
    #[serde(deserialize_with = "de::string")]
    pub flags: String,
    #[serde(deserialize_with = "de::string")]
    pub fail: String,
}

/// `GET /nodes/{node}/disks/smart?disk=...`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SmartData {
    /// PASSED, OK, FAILED, UNKNOWN
    #[serde(deserialize_with = "de::string")]
    pub health: String,
    /// ata or text
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub text: String,
    #[serde(deserialize_with = "de::opt_f64")]
    pub wearout: Option<f64>,
    #[serde(deserialize_with = "de::nullable")]
    pub attributes: Vec<SmartAttribute>,
}

/// One entry of `GET /cluster/status` (`type` is `cluster` or `node`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClusterStatusItem {
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub ip: String,
    #[serde(deserialize_with = "de::bool")]
    pub online: bool,
    #[serde(deserialize_with = "de::bool")]
    pub local: bool,
    #[serde(deserialize_with = "de::u64")]
    pub nodeid: u64,
    #[serde(deserialize_with = "de::string")]
    pub level: String,
    #[serde(deserialize_with = "de::bool")]
    pub quorate: bool,
    #[serde(deserialize_with = "de::u64")]
    pub nodes: u64,
    #[serde(deserialize_with = "de::u64")]
    pub version: u64,
}

/// One entry of `GET /cluster/resources` (any type).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClusterResource {
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    /// qemu, lxc, node, storage, pool, sdn
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub node: String,
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    /// fraction of maxcpu
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    #[serde(deserialize_with = "de::f64")]
    pub maxcpu: f64,
    #[serde(deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxmem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxdisk: u64,
    /// cumulative bytes
    #[serde(deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskwrite: u64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    #[serde(deserialize_with = "de::bool")]
    pub template: bool,
    /// `;`-separated
    #[serde(deserialize_with = "de::string")]
    pub tags: String,
    #[serde(deserialize_with = "de::string")]
    pub lock: String,
    #[serde(deserialize_with = "de::string")]
    pub hastate: String,
    #[serde(deserialize_with = "de::string")]
    pub pool: String,
    #[serde(deserialize_with = "de::string")]
    pub storage: String,
    #[serde(deserialize_with = "de::string")]
    pub plugintype: String,
    #[serde(deserialize_with = "de::string")]
    pub content: String,
    #[serde(deserialize_with = "de::bool")]
    pub shared: bool,
    #[serde(deserialize_with = "de::string")]
    pub level: String,
}

/// `meminfo` of a VM's status (from the balloon driver; bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GuestMemInfo {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub free: u64,
    #[serde(deserialize_with = "de::u64")]
    pub available: u64,
    #[serde(deserialize_with = "de::u64")]
    pub buffers: u64,
    #[serde(deserialize_with = "de::u64")]
    pub cached: u64,
    #[serde(deserialize_with = "de::u64")]
    pub shared: u64,
}

/// `ha` block of a guest status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HaState {
    #[serde(deserialize_with = "de::bool")]
    pub managed: bool,
    #[serde(deserialize_with = "de::string")]
    pub state: String,
    #[serde(deserialize_with = "de::string")]
    pub group: String,
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct QemuStatus {
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::string")]
    pub qmpstatus: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    #[serde(deserialize_with = "de::f64")]
    pub cpus: f64,
    #[serde(deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxmem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub balloon: u64,
    #[serde(deserialize_with = "de::u64")]
    pub balloon_min: u64,
    #[serde(deserialize_with = "de::u64")]
    pub freemem: u64,
    #[serde(deserialize_with = "de::nullable")]
    pub meminfo: GuestMemInfo,
    #[serde(deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxdisk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskwrite: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    /// integer (0/1) or, on PVE 8.3+, an object
    #[serde(deserialize_with = "de::nullable")]
    pub agent: AgentFlag,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub lock: String,
    #[serde(deserialize_with = "de::bool")]
    pub template: bool,
    #[serde(deserialize_with = "de::string")]
    pub tags: String,
    #[serde(deserialize_with = "de::nullable")]
    pub ha: HaState,
    #[serde(rename = "running-qemu", deserialize_with = "de::string")]
    pub running_qemu: String,
    #[serde(rename = "running-machine", deserialize_with = "de::string")]
    pub running_machine: String,
}

/// A backing device of a guest filesystem.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FsDisk {
    #[serde(deserialize_with = "de::string")]
    pub dev: String,
    #[serde(deserialize_with = "de::string")]
    pub serial: String,
    #[serde(rename = "bus-type", deserialize_with = "de::string")]
    pub bus_type: String,
    #[serde(deserialize_with = "de::i64")]
    pub bus: i64,
    #[serde(deserialize_with = "de::i64")]
    pub target: i64,
    #[serde(deserialize_with = "de::i64")]
    pub unit: i64,
}

/// One filesystem of the guest agent's `get-fsinfo`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FsInfo {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub mountpoint: String,
    #[serde(rename = "total-bytes", deserialize_with = "de::opt_u64")]
    pub total_bytes: Option<u64>,
    #[serde(rename = "used-bytes", deserialize_with = "de::opt_u64")]
    pub used_bytes: Option<u64>,
    #[serde(deserialize_with = "de::nullable")]
    pub disk: Vec<FsDisk>,
}

/// An address of a guest interface.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentIpAddress {
    #[serde(rename = "ip-address", deserialize_with = "de::string")]
    pub ip_address: String,
    /// ipv4 / ipv6
    #[serde(rename = "ip-address-type", deserialize_with = "de::string")]
    pub ip_address_type: String,
    #[serde(deserialize_with = "de::u64")]
    pub prefix: u64,
}

/// Interface counters (cumulative).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentIfStats {
    #[serde(rename = "rx-bytes", deserialize_with = "de::u64")]
    pub rx_bytes: u64,
    #[serde(rename = "tx-bytes", deserialize_with = "de::u64")]
    pub tx_bytes: u64,
    #[serde(rename = "rx-packets", deserialize_with = "de::u64")]
    pub rx_packets: u64,
    #[serde(rename = "tx-packets", deserialize_with = "de::u64")]
    pub tx_packets: u64,
    #[serde(rename = "rx-errs", deserialize_with = "de::u64")]
    pub rx_errs: u64,
    #[serde(rename = "tx-errs", deserialize_with = "de::u64")]
    pub tx_errs: u64,
    #[serde(rename = "rx-dropped", deserialize_with = "de::u64")]
    pub rx_dropped: u64,
    #[serde(rename = "tx-dropped", deserialize_with = "de::u64")]
    pub tx_dropped: u64,
}

/// One interface of `network-get-interfaces`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentInterface {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(rename = "hardware-address", deserialize_with = "de::string")]
    pub hardware_address: String,
    #[serde(rename = "ip-addresses", deserialize_with = "de::nullable")]
    pub ip_addresses: Vec<AgentIpAddress>,
    #[serde(deserialize_with = "de::nullable")]
    pub statistics: Option<AgentIfStats>,
}

/// `get-osinfo` result.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OsInfo {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(rename = "pretty-name", deserialize_with = "de::string")]
    pub pretty_name: String,
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::string")]
    pub version: String,
    #[serde(rename = "version-id", deserialize_with = "de::string")]
    pub version_id: String,
    #[serde(rename = "kernel-release", deserialize_with = "de::string")]
    pub kernel_release: String,
    #[serde(rename = "kernel-version", deserialize_with = "de::string")]
    pub kernel_version: String,
    #[serde(deserialize_with = "de::string")]
    pub machine: String,
}

/// `agent/info` result (`version` may be a string or `{version}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentInfo {
    pub version: serde_json::Value,
    #[serde(rename = "qemu-ga")]
    pub qemu_ga: serde_json::Value,
}

/// One entry of an LXC status `diskinfo`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LxcDiskInfo {
    #[serde(deserialize_with = "de::u64")]
    pub total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub used: u64,
}

/// `GET /nodes/{node}/lxc/{vmid}/status/current`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LxcStatus {
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    #[serde(deserialize_with = "de::f64")]
    pub cpus: f64,
    #[serde(deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxmem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub swap: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxswap: u64,
    #[serde(deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxdisk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskwrite: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub lock: String,
    #[serde(deserialize_with = "de::bool")]
    pub template: bool,
    #[serde(deserialize_with = "de::string")]
    pub tags: String,
    #[serde(deserialize_with = "de::nullable")]
    pub ha: HaState,
    #[serde(deserialize_with = "de::nullable")]
    pub diskinfo: BTreeMap<String, LxcDiskInfo>,
    #[serde(deserialize_with = "de::string_list")]
    pub ip: Vec<String>,
    #[serde(deserialize_with = "de::string_list")]
    pub ip6: Vec<String>,
    #[serde(deserialize_with = "de::string_list")]
    pub ipv4: Vec<String>,
    #[serde(deserialize_with = "de::string_list")]
    pub ipv6: Vec<String>,
    pub network: serde_json::Value,
}

/// One entry of `GET /nodes/{node}/lxc/{vmid}/interfaces`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LxcInterface {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub hwaddr: String,
    #[serde(rename = "hardware-address", deserialize_with = "de::string")]
    pub hardware_address: String,
    #[serde(deserialize_with = "de::string")]
    pub inet: String,
    #[serde(deserialize_with = "de::string")]
    pub inet6: String,
    #[serde(rename = "ip-addresses", deserialize_with = "de::nullable")]
    pub ip_addresses: Vec<AgentIpAddress>,
}

/// One entry of `GET /nodes/{node}/qemu` or `/lxc` (fallback path).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct GuestListItem {
    #[serde(deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::f64")]
    pub cpu: f64,
    /// may be a float string ("1.5")
    #[serde(deserialize_with = "de::f64")]
    pub cpus: f64,
    #[serde(deserialize_with = "de::u64")]
    pub mem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxmem: u64,
    #[serde(deserialize_with = "de::u64")]
    pub disk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxdisk: u64,
    #[serde(deserialize_with = "de::u64")]
    pub swap: u64,
    #[serde(deserialize_with = "de::u64")]
    pub maxswap: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netin: u64,
    #[serde(deserialize_with = "de::u64")]
    pub netout: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskread: u64,
    #[serde(deserialize_with = "de::u64")]
    pub diskwrite: u64,
    #[serde(deserialize_with = "de::u64")]
    pub uptime: u64,
    #[serde(deserialize_with = "de::bool")]
    pub template: bool,
    #[serde(deserialize_with = "de::string")]
    pub tags: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub lock: String,
}

/// One entry of `GET /cluster/replication` (configuration only).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplicationJob {
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub guest: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub jobnum: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub source: String,
    #[serde(deserialize_with = "de::string")]
    pub target: String,
    #[serde(deserialize_with = "de::string")]
    pub schedule: String,
    #[serde(deserialize_with = "de::opt_f64")]
    pub rate: Option<f64>,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
    #[serde(deserialize_with = "de::bool")]
    pub disable: bool,
    #[serde(deserialize_with = "de::string")]
    pub remove_job: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
}

/// One entry of `GET /nodes/{node}/replication` (run state).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplicationState {
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub guest: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub jobnum: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub source: String,
    #[serde(deserialize_with = "de::string")]
    pub target: String,
    #[serde(deserialize_with = "de::string")]
    pub schedule: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::bool")]
    pub disable: bool,
    #[serde(deserialize_with = "de::opt_i64")]
    pub last_sync: Option<i64>,
    #[serde(deserialize_with = "de::opt_i64")]
    pub last_try: Option<i64>,
    #[serde(deserialize_with = "de::opt_i64")]
    pub next_sync: Option<i64>,
    #[serde(deserialize_with = "de::opt_f64")]
    pub duration: Option<f64>,
    #[serde(deserialize_with = "de::u64")]
    pub fail_count: u64,
    #[serde(deserialize_with = "de::string")]
    pub error: String,
    #[serde(deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
}

/// One entry of `GET /nodes/{node}/disks/zfs`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ZfsPoolListItem {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub health: String,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(deserialize_with = "de::u64")]
    pub alloc: u64,
    #[serde(deserialize_with = "de::u64")]
    pub free: u64,
    #[serde(deserialize_with = "de::u64")]
    pub frag: u64,
    #[serde(deserialize_with = "de::f64")]
    pub dedup: f64,
}

/// A vdev/device in a ZFS pool tree.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ZfsDevice {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub state: String,
    #[serde(deserialize_with = "de::u64")]
    pub read: u64,
    #[serde(deserialize_with = "de::u64")]
    pub write: u64,
    #[serde(deserialize_with = "de::u64")]
    pub cksum: u64,
    #[serde(deserialize_with = "de::string")]
    pub msg: String,
    #[serde(deserialize_with = "de::bool")]
    pub leaf: bool,
    #[serde(deserialize_with = "de::nullable")]
    pub children: Vec<ZfsDevice>,
}

/// `GET /nodes/{node}/disks/zfs/{pool}`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ZfsPoolDetail {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub state: String,
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::string")]
    pub action: String,
    #[serde(deserialize_with = "de::string")]
    pub scan: String,
    #[serde(deserialize_with = "de::string")]
    pub errors: String,
    #[serde(deserialize_with = "de::nullable")]
    pub children: Vec<ZfsDevice>,
}

/// `health` of `GET /cluster/ceph/status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephHealth {
    /// HEALTH_OK / HEALTH_WARN / HEALTH_ERR
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::nullable")]
    pub checks: BTreeMap<String, serde_json::Value>,
    #[serde(deserialize_with = "de::nullable")]
    pub summary: Vec<serde_json::Value>,
}

/// `osdmap` (older Ceph nests it once more under `osdmap`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephOsdMap {
    #[serde(deserialize_with = "de::u64")]
    pub num_osds: u64,
    #[serde(deserialize_with = "de::u64")]
    pub num_up_osds: u64,
    #[serde(deserialize_with = "de::u64")]
    pub num_in_osds: u64,
    #[serde(deserialize_with = "de::nullable")]
    pub osdmap: Option<Box<CephOsdMap>>,
}

/// `pgmap` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephPgMap {
    #[serde(deserialize_with = "de::u64")]
    pub num_pgs: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bytes_total: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bytes_used: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bytes_avail: u64,
    #[serde(deserialize_with = "de::u64")]
    pub data_bytes: u64,
}

/// `GET /cluster/ceph/status` (subset; `servicemap`/`monmap` kept raw).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephStatus {
    #[serde(deserialize_with = "de::string")]
    pub fsid: String,
    #[serde(deserialize_with = "de::nullable")]
    pub health: CephHealth,
    #[serde(deserialize_with = "de::nullable")]
    pub osdmap: CephOsdMap,
    #[serde(deserialize_with = "de::nullable")]
    pub pgmap: CephPgMap,
    pub servicemap: serde_json::Value,
    pub monmap: serde_json::Value,
    pub mgrmap: serde_json::Value,
}

/// One entry of `GET /nodes/{node}/ceph/pool`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CephPool {
    #[serde(deserialize_with = "de::u64")]
    pub pool: u64,
    #[serde(deserialize_with = "de::string")]
    pub pool_name: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(deserialize_with = "de::u64")]
    pub min_size: u64,
    #[serde(deserialize_with = "de::u64")]
    pub pg_num: u64,
    #[serde(deserialize_with = "de::u64")]
    pub bytes_used: u64,
    /// fraction 0..1
    #[serde(deserialize_with = "de::f64")]
    pub percent_used: f64,
    #[serde(deserialize_with = "de::string")]
    pub crush_rule_name: String,
}

/// One entry of `GET /nodes/{node}/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TaskListItem {
    #[serde(deserialize_with = "de::string")]
    pub upid: String,
    #[serde(deserialize_with = "de::string")]
    pub node: String,
    /// e.g. vzdump
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    /// VMID for per-guest tasks
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::string")]
    pub user: String,
    #[serde(deserialize_with = "de::i64")]
    pub starttime: i64,
    #[serde(deserialize_with = "de::opt_i64")]
    pub endtime: Option<i64>,
    /// `OK`, an error text, or absent while running
    #[serde(deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "de::u64")]
    pub pid: u64,
    #[serde(deserialize_with = "de::u64")]
    pub pstart: u64,
}

/// `GET /nodes/{node}/tasks/{upid}/status`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TaskStatus {
    #[serde(deserialize_with = "de::string")]
    pub upid: String,
    #[serde(deserialize_with = "de::string")]
    pub node: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(deserialize_with = "de::string")]
    pub user: String,
    #[serde(deserialize_with = "de::i64")]
    pub starttime: i64,
    /// running / stopped
    #[serde(deserialize_with = "de::string")]
    pub status: String,
    #[serde(deserialize_with = "de::opt_string")]
    pub exitstatus: Option<String>,
    #[serde(deserialize_with = "de::u64")]
    pub pid: u64,
    #[serde(deserialize_with = "de::u64")]
    pub pstart: u64,
}

/// One entry of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StorageContentItem {
    #[serde(deserialize_with = "de::string")]
    pub volid: String,
    /// backup, images, rootdir, iso, vztmpl, snippets
    #[serde(deserialize_with = "de::string")]
    pub content: String,
    #[serde(deserialize_with = "de::i64")]
    pub ctime: i64,
    #[serde(deserialize_with = "de::string")]
    pub format: String,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(deserialize_with = "de::string")]
    pub notes: String,
    #[serde(deserialize_with = "de::bool")]
    pub protected: bool,
    #[serde(deserialize_with = "de::nullable")]
    pub verification: Option<Verification>,
    #[serde(deserialize_with = "de::string")]
    pub parent: String,
    #[serde(deserialize_with = "de::string")]
    pub subtype: String,
    #[serde(deserialize_with = "de::string")]
    pub encrypted: String,
}

/// One entry of `GET /nodes/{node}/{qemu|lxc}/{vmid}/snapshot` (includes `current`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    #[serde(deserialize_with = "de::string")]
    pub description: String,
    #[serde(deserialize_with = "de::opt_i64")]
    pub snaptime: Option<i64>,
    #[serde(deserialize_with = "de::string")]
    pub parent: String,
    #[serde(deserialize_with = "de::bool")]
    pub vmstate: bool,
    #[serde(deserialize_with = "de::bool")]
    pub running: bool,
    #[serde(deserialize_with = "de::string")]
    pub digest: String,
}

/// One entry of `GET /cluster/backup` (scheduled vzdump jobs).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BackupJob {
    #[serde(deserialize_with = "de::string")]
    pub id: String,
    #[serde(rename = "type", deserialize_with = "de::string")]
    pub kind: String,
    #[serde(deserialize_with = "de::bool")]
    pub enabled: bool,
    #[serde(deserialize_with = "de::string")]
    pub schedule: String,
    #[serde(deserialize_with = "de::string")]
    pub starttime: String,
    #[serde(deserialize_with = "de::string")]
    pub dow: String,
    #[serde(deserialize_with = "de::string")]
    pub storage: String,
    #[serde(deserialize_with = "de::string")]
    pub node: String,
    #[serde(deserialize_with = "de::string")]
    pub vmid: String,
    #[serde(deserialize_with = "de::bool")]
    pub all: bool,
    #[serde(deserialize_with = "de::string")]
    pub mode: String,
    #[serde(deserialize_with = "de::string")]
    pub compress: String,
    #[serde(deserialize_with = "de::string")]
    pub mailto: String,
    #[serde(deserialize_with = "de::string")]
    pub mailnotification: String,
    #[serde(rename = "next-run", deserialize_with = "de::opt_i64")]
    pub next_run: Option<i64>,
    #[serde(deserialize_with = "de::string")]
    pub comment: String,
    #[serde(deserialize_with = "de::string")]
    pub pool: String,
    #[serde(deserialize_with = "de::string")]
    pub exclude: String,
    #[serde(rename = "notes-template", deserialize_with = "de::string")]
    pub notes_template: String,
    #[serde(rename = "prune-backups")]
    pub prune_backups: serde_json::Value,
}

/// The `agent` field of a VM status: `0`/`1` on older PVE, `{"enabled":1,"available":1}` on
/// PVE 8.3+.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentFlag {
    pub enabled: bool,
    /// Only in the object form: whether the agent answered recently.
    pub available: Option<bool>,
}

impl AgentFlag {
    /// Whether agent calls are worth making: `available` when PVE says so, else `enabled`.
    pub fn usable(&self) -> bool {
        self.available.unwrap_or(false) || self.enabled
    }
}

impl<'de> Deserialize<'de> for AgentFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        let flag = |v: Option<&serde_json::Value>| v.and_then(de::value_f64).map(|f| f != 0.0);
        Ok(match v {
            Some(serde_json::Value::Object(m)) => AgentFlag {
                enabled: flag(m.get("enabled")).unwrap_or(false),
                available: flag(m.get("available")),
            },
            // Older PVE sends the raw config string ("1,fstrim_cloned_disks=1").
            Some(serde_json::Value::String(s)) => AgentFlag {
                enabled: s
                    .split(',')
                    .find(|p| !p.contains('=') || p.starts_with("enabled="))
                    .map(|p| p.trim_start_matches("enabled="))
                    .and_then(|p| de::value_f64(&serde_json::Value::String(p.to_owned())))
                    .is_some_and(|f| f != 0.0),
                available: None,
            },
            other => AgentFlag {
                enabled: flag(other.as_ref()).unwrap_or(false),
                available: None,
            },
        })
    }
}

/// What a guest-agent call carries inside `data`: `{"result": ...}` on success, or
/// `{"error": {"class": ..., "desc": ...}}` when the agent itself failed (HTTP 200 anyway).
#[derive(Debug, Clone, Deserialize)]
pub struct AgentReply<T> {
    #[serde(default = "none")]
    pub result: Option<T>,
    #[serde(default)]
    pub error: Option<AgentErrorBody>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AgentErrorBody {
    #[serde(deserialize_with = "de::string")]
    pub class: String,
    #[serde(deserialize_with = "de::string")]
    pub desc: String,
}

/// `GET /nodes/{node}/lxc/{vmid}/config`: a flat key → value map (`hostname`, `rootfs`,
/// `net0`, `mp0`, ...), kept as-is with helpers for the keys Pulse reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct LxcConfig(pub BTreeMap<String, serde_json::Value>);

impl LxcConfig {
    /// A value as text (numbers are formatted).
    pub fn get(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// `netN` entries in key order, each parsed into its `k=v` options.
    pub fn nets(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.numbered("net")
    }

    /// `mpN` entries in key order; the volume is under key `""` (first, unnamed option).
    pub fn mount_points(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.numbered("mp")
    }

    fn numbered(&self, prefix: &str) -> Vec<(String, BTreeMap<String, String>)> {
        self.0
            .keys()
            .filter(|k| {
                k.strip_prefix(prefix)
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            })
            .filter_map(|k| Some((k.clone(), parse_options(&self.get(k)?))))
            .collect()
    }
}

/// Parses a Proxmox property string `vol,key=value,key2=value2`; a part without `=` is stored
/// under the empty key.
pub fn parse_options(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
            None => (String::new(), p.trim().to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_flag_forms() {
        let f = |j: &str| serde_json::from_str::<AgentFlag>(j).unwrap();
        assert!(f("1").usable());
        assert!(!f("0").usable());
        assert!(!f("null").usable());
        assert!(f(r#"{"enabled":1,"available":0}"#).usable());
        assert!(f(r#"{"enabled":0,"available":1}"#).usable());
        assert!(!f(r#"{"enabled":"0"}"#).usable());
        assert!(f(r#""1,fstrim_cloned_disks=1""#).usable());
        assert!(f(r#""enabled=1""#).usable());
        assert!(!f(r#""0""#).usable());
    }

    #[test]
    fn resource_flags_and_ids_in_every_spelling() {
        let v: Vec<ClusterResource> = serde_json::from_str(
            r#"[{"id":"qemu/100","type":"qemu","vmid":100,"template":true,"maxmem":1.5e9},
                {"id":"lxc/101","type":"lxc","vmid":"101","template":"1","shared":1},
                {"id":"qemu/102","type":"qemu","vmid":102.0,"template":0,"tags":null},
                {"id":"node/pve","type":"node","cpu":"0.25","maxcpu":"8"}]"#,
        )
        .unwrap();
        assert!(v[0].template && v[1].template && !v[2].template);
        assert_eq!(
            v.iter().map(|r| r.vmid).collect::<Vec<_>>(),
            [Some(100), Some(101), Some(102), None]
        );
        assert_eq!(v[0].maxmem, 1_500_000_000);
        assert_eq!((v[3].cpu, v[3].maxcpu), (0.25, 8.0));
        assert_eq!(v[2].tags, "");
    }

    #[test]
    fn lxc_config_helpers() {
        let c: LxcConfig = serde_json::from_str(
            r#"{"hostname":"ct1","memory":512,"rootfs":"local-lvm:vm-101-disk-0,size=8G",
                "net0":"name=eth0,bridge=vmbr0,hwaddr=AA:BB:CC:DD:EE:FF,ip=10.0.0.5/24",
                "mp0":"local:101/vm-101-disk-1.raw,mp=/data,size=1G","mpx":"ignored"}"#,
        )
        .unwrap();
        assert_eq!(c.get("memory").as_deref(), Some("512"));
        let nets = c.nets();
        assert_eq!(nets.len(), 1);
        assert_eq!(nets[0].1["ip"], "10.0.0.5/24");
        let mps = c.mount_points();
        assert_eq!(mps[0].1["mp"], "/data");
        assert_eq!(mps[0].1[""], "local:101/vm-101-disk-1.raw");
    }
}
