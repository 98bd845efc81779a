import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '@wardwatch/config';
import { decideRequest, quarantineAs, releaseAs, setTrust } from '@wardwatch/policy';
import { prepareSchema } from '@wardwatch/storage';
import { createLogger } from '@wardwatch/telemetry';
import { openAdapters } from '../assemble.ts';

const USAGE = `usage: wardwatch quarantine IP --reason R [--minutes N] [--config FILE]
       wardwatch quarantine release IP --reason R [--config FILE]
       wardwatch quarantine approve|reject REQUEST-ID --reason R [--minutes N] [--config FILE]
       wardwatch quarantine trust ADDRESS trusted|pending|blocked [--config FILE]`;

/**
 * `wardwatch quarantine ...`: the policy service's one quarantine path from the command line (the same
 * functions as the API and automatic enforcement: record, event, feeds, audit row with actor
 * `cli:<user>`), plus request decisions and exporter trust.
 */
export async function quarantineCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      minutes: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const [first, second, third] = positionals;
  const sub =
    first === 'release' || first === 'approve' || first === 'reject' || first === 'trust' ? first : 'add';
  const target = sub === 'add' ? first : second;
  if (!target || (sub !== 'trust' && !values.reason?.trim())) {
    console.error(USAGE);
    return 2;
  }
  if ((sub === 'add' || sub === 'release' || sub === 'trust') && isIP(target) === 0) {
    console.error(`${target} is not an IP address`);
    return 2;
  }
  if ((sub === 'approve' || sub === 'reject') && !/^[1-9]\d{0,15}$/.test(target)) {
    console.error('approve/reject need the request id (from GET /v1/quarantine-requests)');
    return 2;
  }
  if (sub === 'trust' && third !== 'trusted' && third !== 'pending' && third !== 'blocked') {
    console.error(USAGE);
    return 2;
  }
  let expiresAt: Date | null = null;
  if (values.minutes !== undefined) {
    const m = Number(values.minutes);
    if (!Number.isInteger(m) || m < 1 || m > 525600) {
      console.error('--minutes must be a whole number, 1..525600');
      return 2;
    }
    expiresAt = new Date(Date.now() + m * 60_000);
  }
  const config = loadConfig({ file: values.config });
  const { db, transport } = await openAdapters(config, createLogger({ level: 'warn' }), true);
  const actor = `cli:${osUser()}`;
  try {
    await prepareSchema(db!, config.database.migrate);
    const reason = values.reason?.trim() ?? '';
    let out: unknown;
    if (sub === 'add')
      out = await quarantineAs(db!.pool, { ip: target, reason, expiresAt, source: 'manual', actor });
    else if (sub === 'release') out = await releaseAs(db!.pool, { ip: target, reason, actor });
    else if (sub === 'trust')
      out = await setTrust(db!.pool, target, third as 'trusted' | 'pending' | 'blocked', actor);
    else
      out = await decideRequest(db!.pool, {
        id: Number(target),
        approve: sub === 'approve',
        note: reason,
        actor,
        expiresAt,
      });
    console.log(JSON.stringify(out));
    return 0;
  } catch (err) {
    // Expected refusals (no such device, already quarantined, ...) carry a stable code.
    const e = err as { code?: string; message?: string };
    if (e.code && /^[A-Z_]+$/.test(e.code)) {
      console.error(`${e.code}: ${e.message}`);
      return 1;
    }
    throw err;
  } finally {
    await db?.close();
    await transport?.close();
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
