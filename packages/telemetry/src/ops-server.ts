import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** A service's operations endpoints (cluster mode; embedded mode serves /metrics on the API). */
export interface OpsHandlers {
  registry: Registry;
  /** Undefined when ready, else why not. */
  notReady(): Promise<string | undefined>;
}

/**
 * Serves `GET /metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (what the
 * service says: e.g. sockets bound, transport and database reachable). Read-only, no request body, no
 * stack traces. Meant for the cluster network (Prometheus, kubelet probes), not for the SOC.
 */
export async function startOpsServer(host: string, port: number, h: OpsHandlers): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'application/json', '{"error":"method not allowed"}');
    const work = async () => {
      if (path === '/metrics') return send(200, h.registry.contentType, await h.registry.metrics());
      if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
      if (path === '/readyz') {
        const why = await h.notReady();
        return why === undefined
          ? send(200, 'application/json', '{"status":"ready"}')
          : send(503, 'application/json', JSON.stringify({ status: 'not ready', reason: why }));
      }
      return send(404, 'application/json', '{"error":"not found"}');
    };
    work().catch(() => send(500, 'application/json', '{"error":"internal error"}'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
