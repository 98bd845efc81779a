import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Seals webhook secrets at rest: AES-256-GCM with a key from config, or stored as given without one. */
export interface SecretBox {
  readonly encrypting: boolean;
  seal(secret: string): string;
  open(stored: string): string;
}

/** A SecretBox keyed by `key` (any string of 16+ characters, stretched with SHA-256), or a pass-through. */
export function createSecretBox(key: string | undefined): SecretBox {
  const k = key ? createHash('sha256').update(key, 'utf8').digest() : undefined;
  return {
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
      const d = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64'));
      d.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
    },
  };
}
