// How the API listens: cleartext HTTP only on loopback (or when `api.insecureHttp` says TLS ends in
// front of it); otherwise HTTPS from the configured certificate and key files, re-read when they change
// (a renewed certificate is served without a restart); in embedded mode without files, a self-signed
// certificate generated into the data dir on first start, whose SHA-256 fingerprint is logged so a
// client can pin it.
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  unwatchFile,
  watchFile,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { apiTransportProblem, ConfigError, isLoopbackHost, type WardwatchConfig } from '@wardwatch/config';
import type { Logger } from '@wardwatch/telemetry';
import { generate } from 'selfsigned';

/** Certificate and key, PEM. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** The API listener's transport, decided from the configuration. */
export interface ApiTransport {
  /** HTTPS material; undefined: cleartext HTTP. */
  https: TlsFiles | undefined;
  /** Certificate and key files to watch for renewal (configured files only). */
  watch?: { certFile: string; keyFile: string };
  /** SHA-256 fingerprint of the served certificate (colon-separated hex). */
  fingerprint?: string;
}

/** How often the certificate files are checked for a change, milliseconds. */
const WATCH_INTERVAL_MS = 1000;

/** SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256` prints it. */
export function certificateFingerprint(pem: Buffer | string): string {
  return new X509Certificate(pem).fingerprint256;
}

function readPair(certFile: string, keyFile: string): TlsFiles {
  return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/**
 * Decides how the API listens. Throws when the configured files cannot be read (the error names the
 * file, never its content).
 */
export async function resolveApiTransport(config: WardwatchConfig, logger: Logger): Promise<ApiTransport> {
  const api = config.api;
  const problem = apiTransportProblem(config);
  if (problem) throw new ConfigError([problem]);
  if (api.tlsCertFile && api.tlsKeyFile) {
    const https = readPair(api.tlsCertFile, api.tlsKeyFile);
    return {
      https,
      watch: { certFile: api.tlsCertFile, keyFile: api.tlsKeyFile },
      fingerprint: certificateFingerprint(https.cert),
    };
  }
  if (isLoopbackHost(api.host) || api.insecureHttp) {
    if (!isLoopbackHost(api.host))
      logger.warn(
        { host: api.host },
        'api.insecureHttp: the API serves cleartext HTTP beyond loopback; TLS must end in front of it',
      );
    return { https: undefined };
  }
  // Only embedded mode gets here (the configuration refuses cluster mode without TLS beyond loopback).
  const https = await selfSignedInDataDir(config.dataDir, api.host);
  const fingerprint = certificateFingerprint(https.cert);
  logger.warn(
    { fingerprint, certFile: join(config.dataDir, 'tls', 'api-cert.pem') },
    'the API serves HTTPS with a self-signed certificate from the data dir: check this SHA-256 fingerprint when a client first connects, or set api.tlsCertFile/api.tlsKeyFile',
  );
  return { https, fingerprint };
}

/** The data dir's self-signed certificate, generated on first start (key 0600 in a 0700 directory). */
async function selfSignedInDataDir(dataDir: string, host: string): Promise<TlsFiles> {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'api-cert.pem');
  const keyFile = join(dir, 'api-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return readPair(certFile, keyFile);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const name = hostname();
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: name },
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  if (/^[\d.]+$|:/.test(host) && host !== '0.0.0.0' && host !== '::') altNames.push({ type: 7, ip: host });
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 825 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { cert: Buffer.from(pems.cert), key: Buffer.from(pems.private) };
}

/**
 * Re-reads the certificate and key when either file changes and hands the new pair to `apply`; a pair
 * that does not load (half-written, mismatched) is logged and the served one kept. Returns the stop.
 */
export function watchCertificate(
  files: { certFile: string; keyFile: string },
  apply: (pair: TlsFiles) => void,
  logger: Logger,
): () => void {
  const reload = () => {
    try {
      const pair = readPair(files.certFile, files.keyFile);
      apply(pair);
      logger.info({ fingerprint: certificateFingerprint(pair.cert) }, 'API certificate reloaded');
    } catch (err) {
      logger.error(
        { certFile: files.certFile, err: (err as Error).message },
        'API certificate not reloaded; serving the previous one',
      );
    }
  };
  const opts = { interval: WATCH_INTERVAL_MS, persistent: false };
  watchFile(files.certFile, opts, reload);
  watchFile(files.keyFile, opts, reload);
  return () => {
    unwatchFile(files.certFile, reload);
    unwatchFile(files.keyFile, reload);
  };
}
