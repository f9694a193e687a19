// One list of PVE (vzdump on storage) and PBS backups, newest first (pure; tested).
import type { PulseState } from "./types";

export interface BackupRow { id: string; vmid: string; source: "PVE" | "PBS"; where: string; time: string; size: number; verified: boolean }

export function unifiedBackups(s: PulseState | null | undefined): BackupRow[] {
  if (!s) return [];
  const out: BackupRow[] = [];
  for (const b of s.pveBackups?.storageBackups ?? []) {
    // PBS-backed PVE storages list the same snapshots as the PBS poll: keep the PBS entry.
    if (b.isPBS) continue;
    out.push({ id: b.id, vmid: String(b.vmid), source: "PVE", where: `${b.node}/${b.storage}`, time: b.time, size: b.size, verified: b.verified });
  }
  for (const b of s.pbsBackups ?? []) {
    out.push({ id: b.id, vmid: b.vmid, source: "PBS", where: `${b.instance}/${b.datastore}`, time: b.backupTime, size: b.size, verified: b.verified });
  }
  return out.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}
