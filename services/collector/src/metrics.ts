import { metrics as otelMetrics } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, type Registry } from '@wardwatch/telemetry';
import type { ShardStats } from './shard.ts';

/** Exporters that get their own `exporter` label; the rest share `other` (bounded cardinality). */
const MAX_EXPORTER_LABELS = 256;
/** sFlow interfaces (agent, ifIndex) that get their own series; past it new ones are not shown. */
const MAX_INTERFACE_SERIES = 4096;

/**
 * The collector's Prometheus metrics (and OpenTelemetry API counters beside them). Accounting:
 * every decoded record is either `unmonitored` or routed to one device partition per monitored
 * endpoint; every routed copy ends as published, dropped (`buffer_full`, `shutdown`) or pending.
 */
export function createCollectorMetrics(registry: Registry) {
  const r = [registry];
  const meter = otelMetrics.getMeter('@wardwatch/collector');
  // Counted per packet on the receive thread: a plain number there, added to the counter when scraped
  // (a labelled `inc` per datagram was a visible share of the receive thread's time).
  const receivedSince = { udp: 0, tcp: 0 };
  /** Takes the UDP receive thread's counts into these metrics; called before each scrape. */
  let pull = () => {};
  const m = {
    received: new Counter({
      name: 'wardwatch_collector_packets_received_total',
      help: 'Export packets read from the sockets (UDP datagrams, IPFIX messages over TCP), by transport',
      labelNames: ['transport'] as const,
      registers: r,
      collect() {
        pull();
        for (const t of ['udp', 'tcp'] as const) {
          if (receivedSince[t] > 0) this.inc({ transport: t }, receivedSince[t]);
          receivedSince[t] = 0;
        }
      },
    }),
    packets: new Counter({
      name: 'wardwatch_collector_packets_total',
      help: 'Export packets decoded, by export version',
      labelNames: ['version'] as const,
      registers: r,
    }),
    packetsDropped: new Counter({
      name: 'wardwatch_collector_packets_dropped_total',
      help: 'Export packets dropped (not_allowed, blocked, decode_backlog, tcp_framing) or not wholly decodable (truncated, malformed, unsupported_version; records before the fault are kept)',
      labelNames: ['reason'] as const,
      registers: r,
      collect() {
        pull();
      },
    }),
    tcpClosed: new Counter({
      name: 'wardwatch_collector_tcp_connections_closed_total',
      help: 'IPFIX-over-TCP connections refused over the cap (limit) or closed after tcpIdleTimeoutMs of silence (idle)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    workerExits: new Counter({
      name: 'wardwatch_collector_decode_worker_exits_total',
      help: 'Decode workers that exited unasked (crash, out of memory); each is restarted',
      registers: r,
    }),
    workerRestarts: new Counter({
      name: 'wardwatch_collector_decode_worker_restarts_total',
      help: 'Decode workers started again after exiting unasked',
      registers: r,
    }),
    records: new Counter({
      name: 'wardwatch_collector_records_decoded_total',
      help: 'Flow records decoded',
      registers: r,
    }),
    recordsRouted: new Counter({
      name: 'wardwatch_collector_records_routed_total',
      help: 'Record copies routed to a device partition (a flow between two devices counts twice)',
      registers: r,
    }),
    recordsPublished: new Counter({
      name: 'wardwatch_collector_records_published_total',
      help: 'Record copies acknowledged by the transport (Kafka: by all in-sync replicas)',
      registers: r,
    }),
    recordsDropped: new Counter({
      name: 'wardwatch_collector_records_dropped_total',
      help: 'Records not published, by reason: unmonitored (records without a device endpoint), buffer_full and shutdown (record copies)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    templates: new Gauge({
      name: 'wardwatch_collector_templates',
      help: 'Templates held by the decoders',
      registers: r,
    }),
    templateEvents: new Counter({
      name: 'wardwatch_collector_template_events_total',
      help: 'Template events: learned, withdrawn, rejected, imported (from templates-v1)',
      labelNames: ['event'] as const,
      registers: r,
    }),
    unknownTemplateSets: new Counter({
      name: 'wardwatch_collector_unknown_template_sets_total',
      help: 'Data sets that arrived before their template',
      registers: r,
    }),
    heldSets: new Gauge({
      name: 'wardwatch_collector_held_sets',
      help: 'Data sets held waiting for their template',
      registers: r,
    }),
    heldRecordsReleased: new Counter({
      name: 'wardwatch_collector_held_records_released_total',
      help: 'Records decoded from held data sets once their template arrived',
      registers: r,
    }),
    heldSetsExpired: new Counter({
      name: 'wardwatch_collector_held_sets_expired_total',
      help: 'Held data sets dropped because their template never arrived in time (or the hold bound was hit)',
      registers: r,
    }),
    sequenceLost: new Counter({
      name: 'wardwatch_collector_sequence_lost_total',
      help: 'Loss reported by exporter sequence numbers (v5 flows, v9 packets, IPFIX records), by exporter',
      labelNames: ['exporter'] as const,
      registers: r,
    }),
    datagramsLost: new Counter({
      name: 'wardwatch_collector_sflow_datagrams_lost_total',
      help: "sFlow datagrams lost per the agents' datagram sequence numbers, by agent",
      labelNames: ['exporter'] as const,
      registers: r,
    }),
    interfaceUp: new Gauge({
      name: 'wardwatch_collector_interface_oper_up',
      help: 'sFlow agent interface operationally up (1) or not (0), from its latest counter sample',
      labelNames: ['exporter', 'if_index'] as const,
      registers: r,
    }),
    interfaceErrors: new Gauge({
      name: 'wardwatch_collector_interface_errors',
      help: "sFlow agent interface errors (the agent's cumulative ifInErrors/ifOutErrors), by direction",
      labelNames: ['exporter', 'if_index', 'direction'] as const,
      registers: r,
    }),
    interfaceDiscards: new Gauge({
      name: 'wardwatch_collector_interface_discards',
      help: "sFlow agent interface discards (the agent's cumulative ifInDiscards/ifOutDiscards), by direction",
      labelNames: ['exporter', 'if_index', 'direction'] as const,
      registers: r,
    }),
    sequenceResets: new Counter({
      name: 'wardwatch_collector_sequence_resets_total',
      help: 'Sequence jumps taken as an exporter restart',
      registers: r,
    }),
    exporters: new Gauge({
      name: 'wardwatch_collector_exporters',
      help: 'Exporters known to the decoders',
      registers: r,
    }),
    spoolBytes: new Gauge({
      name: 'wardwatch_collector_spool_bytes',
      help: 'Bytes in the disk spool behind the buffer (collector.spoolDir)',
      registers: r,
    }),
    recordsSpooled: new Counter({
      name: 'wardwatch_collector_records_spooled_total',
      help: 'Flow records written to the disk spool because the buffer was full (or at shutdown)',
      registers: r,
    }),
    bufferBytes: new Gauge({
      name: 'wardwatch_collector_buffer_bytes',
      help: 'Bytes queued between decoding and the transport',
      registers: r,
    }),
    bufferFill: new Gauge({
      name: 'wardwatch_collector_buffer_fill_ratio',
      help: 'Fill of the buffer between decoding and the transport, 0..1',
      registers: r,
    }),
    backlogBytes: new Gauge({
      name: 'wardwatch_collector_decode_backlog_bytes',
      help: 'Bytes of datagrams handed to decode workers and not yet decoded',
      registers: r,
    }),
    publishSeconds: new Histogram({
      name: 'wardwatch_collector_kafka_publish_seconds',
      help: 'Latency of a successful publish to the transport (Kafka produce with acks=all)',
      labelNames: ['topic'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    publishRetries: new Counter({
      name: 'wardwatch_collector_kafka_retries_total',
      help: 'Failed publishes that will be retried with backoff',
      registers: r,
    }),
    tcpConnections: new Gauge({
      name: 'wardwatch_collector_tcp_connections',
      help: 'Open IPFIX-over-TCP connections',
      registers: r,
    }),
    otelPublished: meter.createCounter('wardwatch.collector.records.published', {
      description: 'Record copies acknowledged by the transport',
    }),
    otelDropped: meter.createCounter('wardwatch.collector.records.dropped', {
      description: 'Records not published',
    }),
  };
  const labelled = new Set<string>();
  const interfaceSeries = new Set<string>();

  function exporterLabel(exporter: string): string {
    if (labelled.has(exporter)) return exporter;
    if (labelled.size < MAX_EXPORTER_LABELS) {
      labelled.add(exporter);
      return exporter;
    }
    return 'other';
  }

  /** Adds one shard output's counters. */
  function applyStats(
    s: ShardStats,
    shardLevels: { templates: number[]; held: number[]; exporters: number[] },
    shard: number,
  ) {
    for (const v in s.packets) m.packets.inc({ version: v }, s.packets[v]!);
    for (const c in s.invalid) m.packetsDropped.inc({ reason: c }, s.invalid[c]!);
    if (s.records > 0) m.records.inc(s.records);
    if (s.routed > 0) m.recordsRouted.inc(s.routed);
    if (s.unmonitored > 0) {
      m.recordsDropped.inc({ reason: 'unmonitored' }, s.unmonitored);
      m.otelDropped.add(s.unmonitored, { reason: 'unmonitored' });
    }
    if (s.templatesLearned > 0) m.templateEvents.inc({ event: 'learned' }, s.templatesLearned);
    if (s.templatesWithdrawn > 0) m.templateEvents.inc({ event: 'withdrawn' }, s.templatesWithdrawn);
    if (s.templatesRejected > 0) m.templateEvents.inc({ event: 'rejected' }, s.templatesRejected);
    if (s.unknownTemplateSets > 0) m.unknownTemplateSets.inc(s.unknownTemplateSets);
    if (s.heldRecordsReleased > 0) m.heldRecordsReleased.inc(s.heldRecordsReleased);
    if (s.heldSetsExpired > 0) m.heldSetsExpired.inc(s.heldSetsExpired);
    if (s.sequenceResets > 0) m.sequenceResets.inc(s.sequenceResets);
    for (const exporter in s.sequenceLost) {
      let label = exporter;
      if (!labelled.has(exporter)) {
        if (labelled.size < MAX_EXPORTER_LABELS) labelled.add(exporter);
        else label = 'other';
      }
      m.sequenceLost.inc({ exporter: label }, s.sequenceLost[exporter]!);
    }
    for (const exporter in s.datagramsLost)
      m.datagramsLost.inc({ exporter: exporterLabel(exporter) }, s.datagramsLost[exporter]!);
    for (const c of s.interfaces) {
      const key = `${c.agent}|${c.subAgentId}|${c.ifIndex}`;
      if (!interfaceSeries.has(key)) {
        if (interfaceSeries.size >= MAX_INTERFACE_SERIES) continue;
        interfaceSeries.add(key);
      }
      const labels = {
        exporter: c.subAgentId === 0 ? c.agent : `${c.agent}|${c.subAgentId}`,
        if_index: String(c.ifIndex),
      };
      m.interfaceUp.set(labels, c.operUp ? 1 : 0);
      m.interfaceErrors.set({ ...labels, direction: 'in' }, c.inErrors);
      m.interfaceErrors.set({ ...labels, direction: 'out' }, c.outErrors);
      m.interfaceDiscards.set({ ...labels, direction: 'in' }, c.inDiscards);
      m.interfaceDiscards.set({ ...labels, direction: 'out' }, c.outDiscards);
    }
    shardLevels.templates[shard] = s.templateCount;
    shardLevels.held[shard] = s.heldSets;
    shardLevels.exporters[shard] = s.exporters;
    const sum = (a: number[]) => a.reduce((x, y) => x + (y ?? 0), 0);
    m.templates.set(sum(shardLevels.templates));
    m.heldSets.set(sum(shardLevels.held));
    m.exporters.set(sum(shardLevels.exporters));
  }

  /** Counts export packets read from a socket. */
  function countReceived(transport: 'udp' | 'tcp', n = 1): void {
    receivedSince[transport] += n;
  }

  /** Sets what takes counts kept elsewhere (the UDP receive thread's) into these metrics at each scrape. */
  function pullBeforeScrape(fn: () => void): void {
    pull = fn;
  }

  return { ...m, applyStats, countReceived, pullBeforeScrape };
}

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
