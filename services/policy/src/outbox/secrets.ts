import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Seals webhook secrets at rest: AES-256-GCM with a key from config, or stored as given without one. */
export interface SecretBox {
  readonly encrypting: boolean;
  seal(secret: string): string;
  open(stored: string): string;
  /**
   * The stored value sealed with the current key when it is not already (plaintext from before sealing,
   * or sealed with a previous key during a rotation); undefined when it needs nothing.
   */
  reseal(stored: string): string | undefined;
}

const stretch = (key: string) => createHash('sha256').update(key, 'utf8').digest();

function openWith(k: Buffer, iv: string, tag: string, ct: string): string {
  const d = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64'));
  d.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
}

/**
 * A SecretBox keyed by `key` (any string of 16+ characters, stretched with SHA-256), or a pass-through.
 * `previous` keys still open what they sealed (key rotation: see docs/security.md).
 */
export function createSecretBox(key: string | undefined, previous: readonly string[] = []): SecretBox {
  const k = key ? stretch(key) : undefined;
  const old = previous.map(stretch);
  const box: SecretBox = {
    encrypting: k !== undefined,
    seal(secret) {
      if (!k) return `plain:${secret}`;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', k, iv);
      const ct = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
      return `v1:${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
    },
    open(stored) {
      if (stored.startsWith('plain:')) return stored.slice(6);
      const [v, iv, tag, ct] = stored.split(':');
      if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unrecognised sealed secret');
      if (!k) throw new Error('a webhook secret is encrypted but webhooks.secretKey is not configured');
      for (const key of [k, ...old]) {
        try {
          return openWith(key, iv, tag, ct);
        } catch {}
      }
      throw new Error(
        'a webhook secret does not open with webhooks.secretKey or webhooks.previousSecretKeys',
      );
    },
    reseal(stored) {
      if (!k) return undefined;
      if (!stored.startsWith('plain:')) {
        const [, iv, tag, ct] = stored.split(':');
        try {
          openWith(k, iv!, tag!, ct!);
          return undefined;
        } catch {}
      }
      return box.seal(box.open(stored));
    },
  };
  return box;
}

/** Seals every stored webhook secret that is plaintext or sealed with a previous key; returns how many. */
export async function resealWebhookSecrets(
  pool: { query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }> },
  box: SecretBox,
): Promise<number> {
  if (!box.encrypting) return 0;
  const { rows } = await pool.query<{ id: string; secret: string }>('SELECT id, secret FROM webhooks');
  let n = 0;
  for (const r of rows) {
    const sealed = box.reseal(r.secret);
    if (sealed === undefined) continue;
    // Only if unchanged meanwhile (another instance may be doing the same).
    await pool.query('UPDATE webhooks SET secret = $1 WHERE id = $2 AND secret = $3', [
      sealed,
      r.id,
      r.secret,
    ]);
    n++;
  }
  return n;
}

/** The webhook key of an embedded installation, generated into the data dir on first start (0600). */
export function dataDirSecretKey(dataDir: string): string {
  const file = join(dataDir, 'webhook-secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
