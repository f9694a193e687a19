// What the page keeps of each state update (pure; tested). /api/state carries the PVE
// backup lists twice (`backups.pve` and `pveBackups`) and per-guest filesystem/NIC arrays
// the tables never show; on a 10,000-guest fleet that is ~45 MB of the ~52 MB. The worker
// keeps the full state and hands the page this trimmed copy; the Backups page asks the
// worker for the lists when it opens.
import type { PulseState } from "./types";

export interface TrimmedState extends PulseState {
  /** Sizes of the lists left behind in the worker. */
  backupCounts: { storageBackups: number; pbsBackups: number; pmgBackups: number };
}

type Loose = Record<string, unknown> & Partial<PulseState>;

function slimGuest<T extends object>(g: T): T {
  const { disks: _d, networkInterfaces: _n, ...rest } = g as Record<string, unknown>;
  return rest as T;
}

export function trimState(s: Loose): TrimmedState {
  const pve = (s.pveBackups ?? { backupTasks: [], storageBackups: [], guestSnapshots: [] }) as NonNullable<PulseState["pveBackups"]>;
  const { backups: _b, pbsBackups, pmgBackups, ...rest } = s as Loose & { backups?: unknown; pmgBackups?: unknown[] };
  return {
    ...(rest as unknown as PulseState),
    vms: (s.vms ?? []).map(slimGuest),
    containers: (s.containers ?? []).map(slimGuest),
    pveBackups: { backupTasks: pve.backupTasks ?? [], guestSnapshots: pve.guestSnapshots ?? [], storageBackups: [] },
    pbsBackups: [],
    backupCounts: {
      storageBackups: (pve.storageBackups ?? []).length,
      pbsBackups: (pbsBackups ?? []).length,
      pmgBackups: (pmgBackups ?? []).length,
    },
  };
}
