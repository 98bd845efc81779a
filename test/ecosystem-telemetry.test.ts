// Traces from producer to consumer through the real Kafka, exported by the real OpenTelemetry SDK to a
// real OTLP/HTTP receiver: the child process starts the way the service images start (telemetry register
// preloaded, configured only by the standard OTEL_* variables), and the receiver must get a producer span
// and a consumer span of the same trace, the consumer's parent being the producer; the log line written
// inside the consumer span carries that trace id. Without OTEL_* variables, nothing is exported.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TEST_KAFKA_BROKERS, uniqueName, waitFor } from '@wardwatch/testkit';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}
interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }>;
  }>;
}

let server: Server;
let endpoint = '';
const received: OtlpRequest[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') received.push(JSON.parse(body) as OtlpRequest);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

async function child(env: Record<string, string>) {
  const prefix = `${uniqueName('trace')}.`;
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './packages/telemetry/src/register.ts',
      'test/support/ecosystem-trace-child.ts',
      prefix,
      TEST_KAFKA_BROKERS.join(','),
    ],
    {
      cwd: ROOT,
      timeout: 90_000,
      env: { PATH: process.env.PATH ?? '', KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
    },
  );
  const lines = stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!) as {
    sent: { traceId: string; spanId: string; headers: Record<string, string> };
    consumed: { traceId: string; parentHeader: string };
  };
  const logs = lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { result, logs };
}

test('OTEL_* variables on: one trace from the Kafka producer to the consumer, exported over OTLP', async () => {
  const { result, logs } = await child({
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'wardwatch-trace-test',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  assert.match(
    result.sent.headers.traceparent!,
    /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
    'traceparent header sent',
  );
  assert.equal(result.consumed.parentHeader, result.sent.headers.traceparent, 'the header crossed Kafka');
  assert.equal(result.consumed.traceId, result.sent.traceId);

  const spans = await waitFor(
    async () => {
      const all = received.flatMap((r) =>
        r.resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) =>
            ss.spans.map((s) => ({
              ...s,
              scope: ss.scope.name,
              service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
            })),
          ),
        ),
      );
      const mine = all.filter((s) => s.traceId === result.sent.traceId);
      return mine.length >= 2 ? mine : undefined;
    },
    { what: 'both spans at the OTLP receiver', timeoutMs: 10_000 },
  );
  const producer = spans.find((s) => s.name === 'flows-v1 publish')!;
  const consumer = spans.find((s) => s.name === 'flows-v1 process')!;
  assert.equal(producer.spanId, result.sent.spanId);
  assert.equal(producer.kind, 4); // SPAN_KIND_PRODUCER
  assert.equal(consumer.kind, 5); // SPAN_KIND_CONSUMER
  assert.equal(consumer.parentSpanId, producer.spanId, 'the consumer span continues the producer span');
  assert.equal(producer.service, 'wardwatch-trace-test');
  assert.equal(producer.scope, 'wardwatch');

  const line = logs.find((l) => l.msg === 'flow batch applied')!;
  assert.equal(line.trace_id, result.sent.traceId, 'the log line carries the trace id');
  assert.equal(line.span_id, consumer.spanId);
});

test('OTEL_* variables off: headers carry no trace context and nothing is exported', async () => {
  const before = received.length;
  const { result, logs } = await child({
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_TRACES_EXPORTER: 'none',
  });
  assert.equal(result.sent.headers.traceparent, undefined);
  assert.equal(logs.find((l) => l.msg === 'flow batch applied')!.trace_id, undefined);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(received.length, before);
});
