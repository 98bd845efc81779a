import { isIP } from 'node:net';
import { Type as T } from '@sinclair/typebox';
import type { App, RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import { listTrust, setTrust } from '../exporter-trust.ts';
import { responses } from '../schemas.ts';

const ExporterTrust = T.Object({
  address: T.String(),
  state: T.String({ description: 'trusted, pending or blocked' }),
  source: T.String({ description: 'allowlist, seen (first packet) or api' }),
  firstSeen: T.String({ format: 'date-time' }),
  changedAt: T.String({ format: 'date-time' }),
  changedBy: T.String(),
});

/** Exporter trust routes: list, trust, block (audited). */
export function exporterTrustRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  const tags = ['exporters'];
  app.get(
    '/v1/exporters/trust',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Trust state of every exporter seen or decided: trusted, pending (new) or blocked',
        tags,
        response: responses({ 200: T.Object({ items: T.Array(ExporterTrust) }) }),
      },
    },
    async () => ({ items: await listTrust(db.pool) }),
  );
  app.put(
    '/v1/exporters/:address/trust',
    {
      config: { auth: 'admin' },
      schema: {
        summary:
          "Trust (its flows are evidence for automatic enforcement), block (its packets are dropped) or set back to pending an exporter's address",
        tags,
        params: T.Object({ address: T.String({ maxLength: 64 }) }),
        body: T.Object(
          { state: T.Union([T.Literal('trusted'), T.Literal('pending'), T.Literal('blocked')]) },
          { additionalProperties: false },
        ),
        response: responses({ 200: ExporterTrust }),
      },
    },
    async (req) => {
      const address = req.params.address;
      if (isIP(address) === 0) throw badRequest('INVALID_ADDRESS', `${address} is not an IP address`);
      return setTrust(db.pool, address, req.body.state, req);
    },
  );
}
