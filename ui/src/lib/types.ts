// The parts of /api/state the UI reads (see shared spec state-model; extra keys are ignored).

export interface Memory { total: number; used: number; free: number; usage: number }
export interface Disk { total: number; used: number; free: number; usage: number; mountpoint?: string }

export interface Node {
  id: string; name: string; displayName?: string; instance: string; host?: string;
  status: string; cpu: number; memory?: Memory; disk?: Disk; uptime: number;
  connectionHealth?: string; isClusterMember?: boolean; clusterName?: string;
  pveVersion?: string; kernelVersion?: string; loadAverage?: number[];
  cpuInfo?: { model: string; cores: number; sockets: number };
}

export interface Guest {
  id: string; vmid: number; name: string; node: string; instance: string;
  status: string; type: string; cpu: number; cpus?: number;
  memory?: Memory; mem?: number; maxmem?: number; disk?: Disk;
  networkIn?: number; networkOut?: number; diskRead?: number; diskWrite?: number;
  uptime?: number; tags?: string | string[]; ipAddresses?: string[];
  osName?: string; osVersion?: string; agentVersion?: string; lock?: string;
  lastSeen?: number;
}

export interface Storage {
  id: string; name: string; node: string; instance: string; type: string; status: string;
  total: number; used: number; free: number; usage: number; content: string; shared: boolean;
  nodes?: string[];
}

export interface PbsDatastore { name: string; total: number; used: number; free: number; usage: number; status: string; error?: string; deduplicationFactor?: number }
export interface PbsInstance { id: string; name: string; host: string; status: string; version: string; cpu: number; memory: number; memoryUsed: number; memoryTotal: number; uptime: number; datastores: PbsDatastore[] | null; connectionHealth: string }
export interface PmgInstance {
  id: string; name: string; host: string; status: string; version: string; connectionHealth: string;
  nodes?: { name: string; status: string; role?: string; queueStatus?: { active: number; deferred: number; hold: number; incoming: number; total: number } }[];
  mailStats?: Record<string, number | string>;
  quarantine?: { spam: number; virus: number; attachment: number; blacklisted: number };
}

export interface Alert {
  id: string; type: string; level: string; resourceId: string; resourceName: string;
  node: string; instance: string; message: string; value: number; threshold: number;
  startTime: string; acknowledged: boolean; ackTime?: string; ackUser?: string;
  lastSeen?: string; resolvedTime?: string;
}

export interface BackupTask { id: string; node: string; vmid: number; status: string; startTime: string; endTime: string; error?: string }
export interface StorageBackup { id: string; storage: string; node: string; instance: string; type: string; vmid: number; time: string; size: number; format: string; isPBS: boolean; verified: boolean; protected: boolean }
export interface PbsBackup { id: string; instance: string; datastore: string; backupType: string; vmid: string; backupTime: string; size: number; verified: boolean; protected: boolean }
export interface GuestSnapshot { id: string; name: string; node: string; instance: string; type: string; vmid: number; time: string; description?: string }
export interface PhysicalDisk { id: string; node: string; instance: string; devPath: string; model: string; type: string; size: number; health: string; wearout: number; temperature: number }

export interface CephPool { id: number; name: string; storedBytes: number; availableBytes: number; objects: number; percentUsed: number }
export interface CephService { type: string; running: number; total: number; message?: string }
export interface CephCluster {
  id: string; instance: string; name: string; fsid?: string; health: string; healthMessage?: string;
  totalBytes: number; usedBytes: number; availableBytes: number; usagePercent: number;
  numMons: number; numMgrs: number; numOsds: number; numOsdsUp: number; numOsdsIn: number; numPGs: number;
  pools?: CephPool[] | null; services?: CephService[] | null; lastUpdated?: number;
}

export interface PulseState {
  nodes: Node[];
  vms: Guest[];
  containers: Guest[];
  storage: Storage[];
  physicalDisks?: PhysicalDisk[];
  cephClusters?: CephCluster[] | null;
  pbs: PbsInstance[];
  pmg: PmgInstance[];
  pbsBackups?: PbsBackup[];
  pveBackups?: { backupTasks: BackupTask[]; storageBackups: StorageBackup[]; guestSnapshots: GuestSnapshot[] };
  activeAlerts: Alert[];
  connectionHealth: Record<string, boolean>;
  lastUpdate: number;
}
