// Target: pmacct's nfacctd (NetFlow/IPFIX) or sfacctd (sFlow) with its Kafka plugin.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { brokers, dir, type Format, Kafka, logLevel, type Runner, runId, sleep, stop } from './common.ts';
import { childrenOf, cpuSeconds, peakRssMb } from './proc.ts';

/**
 * nfacctd (NetFlow/IPFIX) or sfacctd (sFlow) with pmacct's Kafka plugin; counts the octets (nfacctd) or
 * the packets, that is the 1:1 samples (sfacctd), it published.
 */
export async function startNfacctd(port: number, format: Format): Promise<Runner> {
  const daemon = format === 'sflow' ? 'sfacctd' : 'nfacctd';
  const topic = `${runId}.${daemon}-${format}`;
  const kafka = new Kafka({ clientId: 'bench-collector', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const [host, kport] = brokers[0]!.split(':');
  const conf = join(dir, `${daemon}-${format}.conf`);
  writeFileSync(
    conf,
    [
      'daemonize: false',
      `${daemon}_ip: 127.0.0.1`,
      `${daemon}_port: ${port}`,
      `${daemon}_pipe_size: 33554432`,
      'plugins: kafka',
      `kafka_broker_host: ${host}`,
      `kafka_broker_port: ${kport}`,
      `kafka_topic: ${topic}`,
      'kafka_output: json',
      'kafka_refresh_time: 1',
      'aggregate: src_host, dst_host, src_port, dst_port, proto, peer_src_ip',
      'plugin_pipe_size: 102400000',
      'plugin_buffer_size: 102400',
      '',
    ].join('\n'),
  );
  const child = spawn(daemon, ['-f', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  const field = format === 'sflow' ? 'packets' : 'bytes';
  let octets = 0;
  let peak = 0;
  const consumer = kafka.consumer({ groupId: `${runId}-${daemon}-${format}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const v = JSON.parse(message.value?.toString() ?? '{}') as Record<string, number | undefined>;
        octets += v[field] ?? 0;
      } catch {}
    },
  });
  await sleep(2000);
  return {
    unit: format === 'sflow' ? 'records' : 'octets',
    landed: async () => {
      peak = Math.max(peak, peakRssMb(child.pid!));
      return octets;
    },
    rssMb: () => Math.max(peak, peakRssMb(child.pid!)),
    async cpu() {
      // The core process and the Kafka plugin process it forked (librdkafka's threads are in it).
      const core = cpuSeconds(`/proc/${child.pid}/stat`);
      let plugins = 0;
      for (const p of childrenOf(child.pid!)) plugins += cpuSeconds(`/proc/${p}/stat`);
      return { total: core + plugins, core, plugin: plugins };
    },
    async close() {
      peak = Math.max(peak, peakRssMb(child.pid!));
      await stop(child);
      await consumer.disconnect();
    },
  };
}
