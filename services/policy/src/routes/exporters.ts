import { isIP } from 'node:net';
import { Type as T } from '@sinclair/typebox';
import type { InterfaceHealth } from '@wardwatch/flow-schema';
import type { App, RouteContext } from '../context.ts';
import { badRequest } from '../errors.ts';
import {
  parseCollector,
  renderExporterConfig,
  SOURCE_IS_ADDRESS,
  SUPPORTED,
  type Vendor,
} from '../exporter-config.ts';
import { Exporter, ExporterConfigQuery, responses } from '../schemas.ts';

interface ExporterRow {
  address: string;
  observation_domain: number;
  version: number | null;
  packets: number;
  records: number;
  records_per_second: number;
  templates: number;
  sequence_lost: number;
  sampling_interval: number;
  decode_errors: number;
  sequence_unit: string;
  transports: string[];
  collector: string;
  first_seen: Date;
  last_seen: Date;
  datagrams_lost: number;
  /** The collector's per-interface health of an sFlow agent, stored as JSON. */
  interfaces: InterfaceHealth[] | null;
}

/** Exporter routes: the routers sending flows, and their configuration snippets. */
export function exporterRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  app.get(
    '/v1/exporters',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Routers and probes sending flows: rate, templates, sequence loss, sampling, last seen',
        tags: ['exporters'],
        response: responses({ 200: T.Object({ items: T.Array(Exporter) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query<ExporterRow>(
        `SELECT host(address) AS address, observation_domain, version, packets, records, records_per_second, templates,
                sequence_lost, sampling_interval, decode_errors, sequence_unit, transports, collector, first_seen, last_seen,
                datagrams_lost, interfaces
         FROM exporters ORDER BY address, observation_domain LIMIT 10000`,
      );
      return {
        items: rows.map((r) => ({
          address: r.address,
          observationDomain: r.observation_domain,
          version: r.version,
          packets: r.packets,
          records: r.records,
          recordsPerSecond: r.records_per_second,
          templates: r.templates,
          sequenceLost: r.sequence_lost,
          samplingInterval: r.sampling_interval,
          decodeErrors: r.decode_errors,
          sequenceUnit: r.sequence_unit,
          transports: r.transports,
          collector: r.collector,
          firstSeen: r.first_seen.toISOString(),
          lastSeen: r.last_seen.toISOString(),
          ...(r.interfaces === null
            ? {}
            : {
                datagramsLost: r.datagrams_lost,
                interfaces: r.interfaces.map(({ lastSeenMs, ...i }) => ({
                  ...i,
                  lastSeen: new Date(lastSeenMs).toISOString(),
                })),
              }),
        })),
      };
    },
  );

  app.get(
    '/v1/exporters/config',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Export configuration for a router/probe to send flows to this collector',
        tags: ['exporters'],
        querystring: ExporterConfigQuery,
        produces: ['text/plain'],
        response: responses({ 200: T.String() }),
      },
    },
    async (req, reply) => {
      const q = { ...req.query, vendor: req.query.vendor as Vendor };
      const c = parseCollector(q.collector);
      if (typeof c === 'string') throw badRequest('BAD_COLLECTOR', c);
      const protocol = q.protocol ?? SUPPORTED[q.vendor][0]!;
      if (!SUPPORTED[q.vendor].includes(protocol))
        throw badRequest(
          'UNSUPPORTED_PROTOCOL',
          `${q.vendor} exports ${SUPPORTED[q.vendor].join(' or ')}, not ${protocol}`,
        );
      if (q.sourceInterface !== undefined && SOURCE_IS_ADDRESS.has(q.vendor) && isIP(q.sourceInterface) === 0)
        throw badRequest(
          'BAD_SOURCE',
          `${q.vendor} exports from a source address: sourceInterface must be the router's IP address there (e.g. its loopback's), not ${JSON.stringify(q.sourceInterface)}`,
        );
      reply.header('content-type', 'text/plain; charset=utf-8');
      return renderExporterConfig({
        vendor: q.vendor,
        host: c.host,
        port: c.port,
        protocol,
        interface: q.interface,
        sourceInterface: q.sourceInterface,
        samplingRate: q.samplingRate,
      });
    },
  );
}
