// Child process of test/ecosystem-telemetry.test.ts, started with the telemetry register preloaded
// (as the service images start): publishes one flow batch to the real Kafka inside a producer span with
// the trace context in the message headers, consumes it as a consumer group member and continues the
// trace in a consumer span, logging from inside it. Prints one JSON line with what it saw.
import { Topics } from '@wardwatch/flow-schema';
import { createLogger, traceConsume, tracePublish } from '@wardwatch/telemetry';
import { createKafkaTransport } from '@wardwatch/transport';

const prefix = process.argv[2]!;
const brokers = process.argv[3]!.split(',');
const transport = createKafkaTransport({ brokers, clientId: 'trace-test', topicPrefix: prefix });
const logger = createLogger({ level: 'info', name: 'trace-child' });
try {
  await transport.ensureTopic(Topics.flows, 1);
  const publisher = await transport.createPublisher();
  // The wrapper a collector uses: a PRODUCER span, its context added to every message's headers.
  let headers: Record<string, string> = {};
  await tracePublish(Topics.flows, [{ key: '10.20.20.13', value: new Uint8Array([1, 2, 3]) }], (messages) => {
    headers = messages[0]!.headers ?? {};
    return publisher.publish(Topics.flows, messages);
  });
  const [, traceId = '', spanId = ''] = (headers.traceparent ?? '').split('-');
  const sent = { traceId, spanId, headers };
  await publisher.close();
  const subscriber = await transport.createSubscriber(`${prefix}group`);
  const consumed = await new Promise<{ traceId: string; parentHeader: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nothing consumed in 60 s')), 60_000);
    void subscriber
      .start(Topics.flows, async (batch) => {
        // The wrapper an analytics worker uses: a CONSUMER span continuing the producer's trace.
        await traceConsume(Topics.flows, batch.messages, (span) => {
          const m = batch.messages[0]!;
          logger.info({ device: m.key }, 'flow batch applied');
          clearTimeout(timer);
          resolve({ traceId: span.spanContext().traceId, parentHeader: m.headers.traceparent ?? '' });
        });
      })
      .catch(reject);
  });
  await subscriber.close();
  console.log(JSON.stringify({ sent, consumed }));
} finally {
  await transport.close();
}
