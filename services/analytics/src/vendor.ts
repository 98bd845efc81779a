import { createOuiRegistry, type OuiRegistry } from '@wardwatch/oui';
import type { DeviceModel } from './model/device-model.ts';
import type { Statement } from './store/statements.ts';

// The manufacturer of each device, from the MAC it sends with (IPFIX/v9 elements 56/81, sFlow headers),
// looked up in the IEEE registry (`@wardwatch/oui`) and written to `devices` when the MAC changes.

/** Looks manufacturers up and plans their writes. */
export interface Manufacturers {
  /** The registry's organisation for a MAC (undefined: locally administered, multicast, unknown, malformed). */
  manufacturerOf(mac: string): string | undefined;
  /** The statement writing the manufacturer of the devices whose MAC this worker has not written yet. */
  plan(devices: readonly DeviceModel[]): Statement[];
  readonly registry: OuiRegistry;
}

/** Loads the registry (built-in plus the operator's IEEE CSV files). Throws OuiFileError on a bad file. */
export function createManufacturers(files: readonly string[]): Manufacturers {
  const registry = createOuiRegistry({ files });
  // The MAC whose manufacturer was written, per model: a reloaded model is a new object and writes once more.
  const written = new WeakMap<DeviceModel, string>();
  return {
    registry,
    manufacturerOf: (mac) => registry.lookup(mac)?.manufacturer,
    plan(devices) {
      const ip: string[] = [];
      const kind: string[] = [];
      const org: string[] = [];
      const prefix: string[] = [];
      for (const m of devices) {
        if (m.mac === '' || written.get(m) === m.mac) continue;
        const v = registry.lookup(m.mac);
        written.set(m, m.mac);
        if (!v) continue;
        ip.push(m.ip);
        kind.push(v.kind);
        org.push(v.manufacturer ?? '');
        prefix.push(v.prefix ?? '');
      }
      if (ip.length === 0) return [];
      return [
        {
          text: `UPDATE devices AS d SET mac_kind = u.kind, manufacturer = NULLIF(u.org, ''), mac_prefix = NULLIF(u.prefix, '')
           FROM unnest($1::inet[], $2::text[], $3::text[], $4::text[]) AS u(ip, kind, org, prefix)
           WHERE d.ip = u.ip AND (d.mac_kind, d.manufacturer, d.mac_prefix)
             IS DISTINCT FROM (u.kind, NULLIF(u.org, ''), NULLIF(u.prefix, ''))`,
          columns: [ip, kind, org, prefix],
        },
      ];
    },
  };
}
