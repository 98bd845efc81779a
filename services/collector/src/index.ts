// The collector: receives NetFlow v5/v9, IPFIX and sFlow v5 (UDP, and IPFIX over TCP), decodes on worker threads
// sharded by exporter, routes records to device partitions and publishes them through a bounded buffer.
import type { Socket } from 'node:dgram';
import type { Server as HttpServer } from 'node:http';
import type { WardwatchConfig } from '@wardwatch/config';
import { Topics } from '@wardwatch/flow-schema';
import {
  createRateLimitedLog,
  Gauge,
  type Logger,
  type Registry,
  startOpsServer,
  tracePublish,
} from '@wardwatch/telemetry';
import {
  type BufferedPublisher,
  createBufferedPublisher,
  createFileSpool,
  type Publisher,
  type Transport,
  type TransportMessage,
} from '@wardwatch/transport';
import { collectorId, decodeWorkerCount } from './config.ts';
import { readUdpCounters } from './kernel-drops.ts';
import { createCollectorMetrics } from './metrics.ts';
import { createShardPool, type ShardPool } from './pool.ts';
import { bindUdp, listenTcp, type ReceiverEvents, type TcpListener } from './receivers.ts';
import type { KeyedValue, ShardOutput } from './shard.ts';
import { threadCpuSeconds } from './thread-cpu.ts';
import { createTrustView } from './trust.ts';

/**
 * Least time between two produce requests of flow batches (unless 4 MiB wait): each request carries what
 * arrived meanwhile, so kafkajs's and the broker's cost per request (and LZ4's per batch) is paid for
 * more records. Records wait up to this much longer (on top of `collector.lingerMs`).
 */
const PUBLISH_LINGER_MS = 20;

/** What the collector needs from its assembly. */
export interface CollectorDeps {
  config: WardwatchConfig;
  transport: Transport;
  logger: Logger;
  registry: Registry;
}

/** Record accounting since start (the same numbers as the metrics). */
export interface CollectorCounts {
  decoded: number;
  unmonitored: number;
  /** Record copies routed to device partitions. */
  routed: number;
  published: number;
  dropped: Record<string, number>;
  /** Routed copies neither published nor dropped yet (in memory or in the disk spool). */
  pending: number;
  /** Copies written to the disk spool (they stay pending until published). */
  spooled: number;
  /** Copies an earlier process left in the disk spool, published by this one (not in `routed`). */
  inherited: number;
}

/** A running collector. */
export interface Collector {
  start(): Promise<void>;
  /** Stops receiving, decodes what was read, publishes what is waiting (bounded wait), then stops. */
  stop(): Promise<void>;
  /** The UDP ports actually bound (useful when configured as 0). */
  ports(): number[];
  /** The TCP (IPFIX) ports actually bound. */
  tcpPorts(): number[];
  /** Decodes what was read and publishes what is waiting; resolves false if the transport did not take it within `timeoutMs`. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Record accounting since start. */
  counts(): CollectorCounts;
  /** Base URL of /metrics, /healthz, /readyz, when served (cluster mode with `collector.httpPort`). */
  opsUrl(): string | undefined;
  /** Why the collector is not ready (undefined: ready): starting, a decode shard down, transport, buffer. */
  notReady(): Promise<string | undefined>;
  /** Terminates one decode worker as a crash would (operations drills and tests); it is restarted. */
  killDecodeWorker(shard: number): Promise<void>;
  /** Terminates the UDP receive thread as a crash would (drills and tests); it is restarted on the same ports. */
  killUdpThread(): Promise<void>;
}

/** Creates the collector; nothing is bound until `start()`. */
export function createCollector(deps: CollectorDeps): Collector {
  const { config, transport, logger } = deps;
  const c = config.collector;
  const metrics = createCollectorMetrics(deps.registry);
  const trust = createTrustView({
    transport,
    allowlist: c.exporterAllowlist,
    logger,
    onChange: () => {
      releaseWithheld();
      pool?.setBlocked(trust.blocked());
    },
  });
  /** Templates of exporters not trusted (yet), kept to be shared once they are (bounded). */
  const withheld = new Map<string, KeyedValue>();
  const exporterOfKey = (key: string) => key.slice(0, key.indexOf('|'));
  function releaseWithheld(): void {
    const release: KeyedValue[] = [];
    for (const [k, t] of withheld)
      if (trust.trusted(exporterOfKey(k))) {
        release.push(t);
        withheld.delete(k);
      }
    if (release.length > 0) control?.offer(Topics.templates, release, 0);
  }
  /** UDP sockets on this thread (inline decoding only); with workers they live on the receive thread. */
  const udp: Socket[] = [];
  /** Ports bound on the UDP receive thread. */
  let udpThreadPorts: number[] = [];
  const tcp: TcpListener[] = [];
  let ops: HttpServer | undefined;
  let pool: ShardPool | undefined;
  let publisher: Publisher | undefined;
  let flows: BufferedPublisher | undefined;
  let control: BufferedPublisher | undefined;
  let started = false;
  let stopGauges = () => {};
  const levels = { templates: [] as number[], held: [] as number[], exporters: [] as number[] };
  const counts: CollectorCounts = {
    decoded: 0,
    unmonitored: 0,
    routed: 0,
    published: 0,
    dropped: {},
    pending: 0,
    spooled: 0,
    inherited: 0,
  };
  const warnRetry = createRateLimitedLog((f, m) => logger.warn(f, m));
  const warnDrop = createRateLimitedLog((f, m) => logger.warn(f, m));
  const warnSocket = createRateLimitedLog((f, m) => logger.error(f, m));

  const drop = (reason: string, n: number) => {
    counts.dropped[reason] = (counts.dropped[reason] ?? 0) + n;
    metrics.recordsDropped.inc({ reason }, n);
    metrics.otelDropped.add(n, { reason });
  };

  // Kernel counters are read when scraped: cheap, and always current.
  const udpPorts = new Set<number>();
  new Gauge({
    name: 'wardwatch_collector_udp_kernel_drops',
    help: 'Datagrams the kernel dropped for a collector socket since it was opened (/proc/net/udp), by port',
    labelNames: ['port'] as const,
    registers: [deps.registry],
    collect() {
      for (const [port, v] of readUdpCounters(udpPorts)) this.set({ port: String(port) }, v.drops);
    },
  });
  new Gauge({
    name: 'wardwatch_collector_udp_receive_queue_bytes',
    help: 'Bytes waiting in a collector socket receive queue (/proc/net/udp), by port',
    labelNames: ['port'] as const,
    registers: [deps.registry],
    collect() {
      for (const [port, v] of readUdpCounters(udpPorts)) this.set({ port: String(port) }, v.rxQueue);
    },
  });

  // Where the CPU goes, per thread (Linux): the main thread (its id is the process id) runs the Kafka
  // producer and IPFIX over TCP; the UDP receive thread and each decode worker reported their own id.
  new Gauge({
    name: 'wardwatch_collector_thread_cpu_seconds',
    help: 'CPU seconds (user + system) used by a collector thread since it started (/proc), by thread: udp (the UDP receive thread: sockets, hand-off to workers), main (Kafka producer, IPFIX over TCP; UDP too without workers) or decode-N',
    labelNames: ['thread'] as const,
    registers: [deps.registry],
    collect() {
      this.reset();
      const main = threadCpuSeconds(process.pid);
      if (main !== undefined) this.set({ thread: 'main' }, main);
      const udpTid = pool?.udpThreadId();
      const udpCpu = udpTid === undefined ? undefined : threadCpuSeconds(udpTid);
      if (udpCpu !== undefined) this.set({ thread: 'udp' }, udpCpu);
      for (const [shard, tid] of pool?.threadIds() ?? []) {
        const v = threadCpuSeconds(tid);
        if (v !== undefined) this.set({ thread: `decode-${shard}` }, v);
      }
    },
  });

  function onOutput(out: ShardOutput, shard: number): void {
    const s = out.stats;
    counts.decoded += s.records;
    counts.unmonitored += s.unmonitored;
    counts.routed += s.routed;
    metrics.applyStats(s, levels, shard);
    if (s.unmonitored > 0) counts.dropped.unmonitored = (counts.dropped.unmonitored ?? 0) + s.unmonitored;
    for (const b of out.batches) {
      const m: TransportMessage = { key: b.key, value: b.value, partition: b.partition };
      flows?.offer(Topics.flows, [m], b.records);
    }
    // Only trusted exporters' templates are shared: a forged template cannot replace a router's for
    // every collector (its own shard still decodes with it).
    if (out.templates.length > 0) {
      const shared: KeyedValue[] = [];
      for (const t of out.templates) {
        if (trust.trusted(exporterOfKey(t.key))) shared.push(t);
        else {
          metrics.templateEvents.inc({ event: 'not_shared_untrusted' });
          if (t.value === null) withheld.delete(t.key);
          else if (withheld.size < 10_000 || withheld.has(t.key)) withheld.set(t.key, t);
        }
      }
      if (shared.length > 0) control?.offer(Topics.templates, shared, 0);
    }
    if (out.exporters.length > 0) control?.offer(Topics.exporters, out.exporters, 0);
    metrics.bufferBytes.set(flows?.queuedBytes() ?? 0);
    metrics.bufferFill.set(flows?.fill() ?? 0);
    metrics.spoolBytes.set(flows?.spooledBytes() ?? 0);
  }

  const events: ReceiverEvents = {
    received: metrics.countReceived,
    dropped: (reason) => metrics.packetsDropped.inc({ reason }),
    connections: (d) => metrics.tcpConnections.inc(d),
    connectionClosed: (reason) => metrics.tcpClosed.inc({ reason }),
    error: (err, where) => warnSocket({ err, where }, 'socket error'),
  };

  /** Loads the shared template state so data is decoded at once after a restart (of the collector, or of one shard). */
  async function loadTemplates(p: ShardPool, onlyShard?: number): Promise<void> {
    const t0 = Date.now();
    const snap = await transport.readTopic(Topics.templates, { timeoutMs: 15_000 });
    const latest = new Map<string, string>();
    const text = new TextDecoder();
    for (const m of snap.messages) {
      if (m.value.length === 0) latest.delete(m.key);
      else latest.set(m.key, text.decode(m.value));
    }
    const entries = [...latest].map(([key, t]) => ({
      exporter: key.slice(0, key.indexOf('|')),
      key,
      text: t,
    }));
    const r = await p.importTemplates(entries, onlyShard);
    metrics.templateEvents.inc({ event: 'imported' }, r.imported);
    logger.info(
      {
        entries: entries.length,
        imported: r.imported,
        rejected: r.rejected,
        complete: snap.complete,
        ms: Date.now() - t0,
      },
      'templates loaded from templates-v1',
    );
  }

  function routedPending(): number {
    let dropped = 0;
    for (const [k, v] of Object.entries(counts.dropped)) if (k !== 'unmonitored') dropped += v;
    return counts.routed - counts.published - dropped;
  }

  async function startInner(): Promise<void> {
    await transport.ensureTopic(Topics.flows, config.kafka.flowPartitions);
    await transport.ensureTopic(Topics.templates, 1, { compacted: true });
    await transport.ensureTopic(Topics.exporters, 1, { compacted: true });
    const partitions = (await transport.partitionCount(Topics.flows)) || config.kafka.flowPartitions;
    publisher = await transport.createPublisher({ compression: config.kafka.compression, retries: 2 });
    const sink = publisher;
    const common = {
      // Each publish runs in a PRODUCER span whose context rides in the Kafka headers (a no-op while
      // OpenTelemetry is off), so a worker's processing joins the trace.
      publisher: {
        publish: (topic: string, messages: TransportMessage[]) =>
          tracePublish(topic, messages, (m) => sink.publish(topic, m)),
        close: () => sink.close(),
      },
      initialBackoffMs: c.retryInitialMs,
      maxBackoffMs: c.retryMaxMs,
      onRetry: (err: unknown, attempt: number, delayMs: number) => {
        metrics.publishRetries.inc();
        warnRetry(
          { err: err instanceof Error ? err.message : String(err), attempt, delayMs },
          'publish failed; retrying',
        );
      },
    };
    flows = createBufferedPublisher({
      ...common,
      maxBytes: c.bufferBytes,
      lingerMs: PUBLISH_LINGER_MS,
      // Opened here, once the configuration is known to be valid: it reads what an earlier run left.
      ...(c.spoolDir !== ''
        ? {
            spool: createFileSpool({
              dir: c.spoolDir,
              maxBytes: c.spoolBytes,
              onCorrupt: (path, bytes) =>
                logger.error({ path, bytes }, 'damaged spool segment: its unreadable rest is skipped'),
            }),
          }
        : {}),
      onSpooled: (_topic, _n, weight) => {
        counts.spooled += weight;
        metrics.recordsSpooled.inc(weight);
      },
      onPublished: (topic, _n, weight, ms, inherited) => {
        counts.published += weight - inherited;
        counts.inherited += inherited;
        metrics.recordsPublished.inc(weight);
        metrics.spoolBytes.set(flows?.spooledBytes() ?? 0);
        metrics.otelPublished.add(weight);
        metrics.publishSeconds.observe({ topic }, ms / 1000);
      },
      onDropped: (_topic, _n, weight, reason) => {
        drop(reason, weight);
        warnDrop({ reason, records: weight }, 'flow records dropped');
      },
    });
    // Templates and exporter statuses: small, keyed, and never behind a flow backlog.
    control = createBufferedPublisher({
      ...common,
      maxBytes: 16 << 20,
      onPublished: (topic, _n, _w, ms) => metrics.publishSeconds.observe({ topic }, ms / 1000),
      onDropped: (topic, n, _w, reason) => warnDrop({ topic, messages: n, reason }, 'state messages dropped'),
    });
    const workers = decodeWorkerCount(c.decodeWorkers);
    pool = await createShardPool({
      workers,
      backlogBytes: c.decodeBacklogBytes,
      settings: {
        monitoredNetworks: config.monitoredNetworks,
        partitions,
        batchRecords: c.batchRecords,
        lingerMs: c.lingerMs,
        exporterReportMs: c.exporterReportMs,
        collectorId: collectorId(),
        exporterAllowlist: c.exporterAllowlist,
      },
      onOutput,
      onWorkerError: (err, shard) => logger.error({ err, shard }, 'decode worker failed'),
      onWorkerExit: (shard, exitCode) => {
        metrics.workerExits.inc();
        logger.error(
          { shard, exitCode },
          'decode worker exited; restarting it (its exporters are not decoded meanwhile)',
        );
      },
      onWorkerRestart: (shard) => {
        metrics.workerRestarts.inc();
        logger.warn({ shard }, 'decode worker restarted');
        // The new worker starts with no templates: give it its exporters' shared ones.
        if (pool)
          loadTemplates(pool, shard).catch((err) =>
            logger.warn(
              { err: (err as Error).message, shard },
              'templates not reloaded into the restarted shard',
            ),
          );
      },
      restartDelayMs: c.workerRestartDelayMs,
      allowlist: c.exporterAllowlist,
      onUdpThread: (event, detail) => {
        if (event === 'error') warnSocket({ where: 'udp', detail }, 'socket error');
        else if (event === 'exit') {
          metrics.workerExits.inc();
          logger.error({ detail }, 'UDP receive thread exited; restarting it (UDP is not read meanwhile)');
        } else {
          metrics.workerRestarts.inc();
          logger.warn('UDP receive thread restarted');
        }
      },
    });
    const p = pool;
    metrics.pullBeforeScrape(() => {
      const n = p.takeUdpCounts();
      if (n.received > 0) metrics.countReceived('udp', n.received);
      for (const reason of ['not_allowed', 'blocked', 'decode_backlog'] as const)
        if (n[reason] > 0) metrics.packetsDropped.inc({ reason }, n[reason]);
    });
    await loadTemplates(pool);
    await trust.start();
    pool.setBlocked(trust.blocked());
    const admit = trust.admit;
    const onThread = pool.bindUdp(c.host, c.udpPorts, c.receiveBufferBytes);
    if (onThread) udpThreadPorts = await onThread;
    else {
      for (const port of c.udpPorts)
        udp.push(await bindUdp(c.host, port, c.receiveBufferBytes, pool, admit, events));
    }
    for (const port of collector.ports()) udpPorts.add(port);
    const tcpLimits = {
      maxConnections: c.tcpMaxConnections,
      idleTimeoutMs: c.tcpIdleTimeoutMs,
      open: { count: 0 },
    };
    for (const port of c.tcpPorts) {
      // IPFIX over TCP is the secondary path: a port already taken (another collector on this host)
      // is reported, and UDP keeps working.
      try {
        tcp.push(await listenTcp(c.host, port, pool, admit, events, tcpLimits));
      } catch (err) {
        logger.error({ err, port }, 'cannot listen for IPFIX over TCP; continuing with UDP only');
      }
    }
    if (config.mode === 'cluster' && c.httpPort > 0) {
      ops = await startOpsServer(c.host, c.httpPort, {
        registry: deps.registry,
        notReady: () => collector.notReady(),
      });
    }
    const gaugeTimer = setInterval(() => metrics.backlogBytes.set(pool?.backlogBytes() ?? 0), 1000);
    gaugeTimer.unref();
    stopGauges = () => clearInterval(gaugeTimer);
    started = true;
    logger.info(
      { udp: collector.ports(), tcp: collector.tcpPorts(), workers, partitions, ops: collector.opsUrl() },
      'collector listening for NetFlow/IPFIX/sFlow',
    );
  }

  const collector: Collector = {
    async start() {
      try {
        await startInner();
      } catch (err) {
        // Leave nothing running (workers, sockets) behind a failed start.
        await collector.stop().catch(() => {});
        throw err;
      }
    },
    ports: () => [...udpThreadPorts, ...udp.map((s) => s.address().port)],
    tcpPorts: () => tcp.map((s) => s.port()),
    opsUrl() {
      const a = ops?.address();
      return a && typeof a === 'object'
        ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
        : undefined;
    },
    async notReady() {
      if (!started) return 'starting';
      const down = pool?.down() ?? [];
      if (down.length > 0) return `decode shard ${down.join(', ')} down (restarting)`;
      if (pool?.udpDown()) return 'UDP receive thread down (restarting)';
      if (!(await transport.ping())) return 'transport unreachable';
      if ((flows?.fill() ?? 0) >= 0.9) return 'publish buffer nearly full';
      return undefined;
    },
    async killDecodeWorker(shard) {
      if (!pool) throw new Error('collector not started');
      await pool.killWorker(shard);
    },
    async killUdpThread() {
      if (!pool) throw new Error('collector not started');
      await pool.killUdpThread();
    },
    counts: () => ({ ...counts, dropped: { ...counts.dropped }, pending: routedPending() }),
    async flush(timeoutMs = 30_000) {
      await pool?.flush();
      const [a, b] = await Promise.all([flows?.drain(timeoutMs), control?.drain(timeoutMs)]);
      return a !== false && b !== false;
    },
    async stop() {
      started = false;
      stopGauges();
      await Promise.all(udp.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await pool?.closeUdp();
      await Promise.all(tcp.map((s) => s.close()));
      udp.length = 0;
      udpThreadPorts = [];
      tcp.length = 0;
      await pool?.stop();
      pool = undefined;
      await trust.stop().catch(() => {});
      await flows?.close(10_000);
      await control?.close(5_000);
      await publisher?.close().catch(() => {});
      await new Promise<void>((r) => (ops ? ops.close(() => r()) : r()));
      ops = undefined;
    },
  };
  return collector;
}
