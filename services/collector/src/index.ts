// The collector: receives NetFlow v5/v9 and IPFIX exports over UDP, decodes them and publishes flow records.
import { createSocket, type Socket } from 'node:dgram';
import type { WardwatchConfig } from '@wardwatch/config';
import { createDecoderState, decodePacket } from '@wardwatch/flow-decoder';
import { Topics } from '@wardwatch/flow-schema';
import { createRateLimitedLog, type Logger, type Registry } from '@wardwatch/telemetry';
import type { Transport } from '@wardwatch/transport';
import { createCollectorMetrics } from './metrics.ts';
import { createFlowPublisher } from './publisher.ts';

/** What the collector needs from its assembly. */
export interface CollectorDeps {
  config: WardwatchConfig;
  transport: Transport;
  logger: Logger;
  registry: Registry;
}

/** A running collector. */
export interface Collector {
  start(): Promise<void>;
  /** Stops receiving and publishes what is still waiting. */
  stop(): Promise<void>;
  /** The UDP ports actually bound (useful when configured as 0). */
  ports(): number[];
  /** Publishes what is waiting now (tests, shutdown). */
  flush(): Promise<void>;
}

/** Creates the collector; nothing is bound until `start()`. */
export function createCollector(deps: CollectorDeps): Collector {
  const { config, transport, logger } = deps;
  const metrics = createCollectorMetrics(deps.registry);
  const sockets: Socket[] = [];
  const badPacket = createRateLimitedLog((f, m) => logger.warn(f, m));
  let flows: ReturnType<typeof createFlowPublisher> | undefined;
  // Templates, sampling, sequence and held data of every exporter; bounded by the decoder's limits.
  const decoderState = createDecoderState();

  function onMessage(msg: Buffer, rinfo: { address: string }): void {
    // Never let one packet take the collector down: every outcome is a value or a counted drop.
    try {
      const result = decodePacket(msg, decoderState, { exporter: rinfo.address, receivedMs: Date.now() });
      metrics.packets.inc({ version: String(result.version) });
      if (!result.ok) {
        metrics.packetsDropped.inc({ reason: result.error.code.toLowerCase() });
        badPacket({ exporter: rinfo.address, code: result.error.code }, result.error.message);
        return;
      }
      metrics.records.inc(result.records.length);
      flows?.add(result.records);
    } catch (err) {
      metrics.packetsDropped.inc({ reason: 'decoder_fault' });
      badPacket({ exporter: rinfo.address, err }, 'decoder fault');
    }
  }

  async function bind(port: number): Promise<Socket> {
    const socket = createSocket({
      type: config.collector.host.includes(':') ? 'udp6' : 'udp4',
      recvBufferSize: config.collector.receiveBufferBytes,
    });
    socket.on('message', onMessage);
    socket.on('error', (err) => logger.error({ err, port }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, config.collector.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return socket;
  }

  return {
    async start() {
      await transport.ensureTopic(Topics.flows, config.kafka.flowPartitions);
      const publisher = await transport.createPublisher();
      flows = createFlowPublisher({
        publisher,
        monitoredNetworks: config.monitoredNetworks,
        metrics,
        batchRecords: config.collector.batchRecords,
        lingerMs: config.collector.lingerMs,
        onError: (err) => logger.error({ err }, 'publishing flow records failed'),
      });
      for (const port of config.collector.udpPorts) sockets.push(await bind(port));
      logger.info({ ports: this.ports() }, 'collector listening for NetFlow/IPFIX over UDP');
    },
    ports: () => sockets.map((s) => s.address().port),
    flush: async () => {
      await flows?.flush();
    },
    async stop() {
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
      sockets.length = 0;
      await flows?.flush();
    },
  };
}
