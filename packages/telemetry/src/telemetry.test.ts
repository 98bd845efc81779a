import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createLogger, requestIdFor } from './index.ts';
import { type OpenTelemetryHandle, openTelemetryRequested, startOpenTelemetry } from './otel.ts';
import {
  extractTraceContext,
  injectTraceContext,
  linksFromHeaders,
  SpanKind,
  traceConsume,
  tracePublish,
  withSpan,
} from './trace.ts';

describe('OpenTelemetry is opt-in through the standard variables', () => {
  const cases: Array<[Record<string, string>, boolean]> = [
    [{}, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' }, false],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }, true],
    [{ OTEL_METRICS_EXPORTER: 'none,otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }, false],
  ];
  for (const [env, enabled] of cases) {
    test(`${JSON.stringify(env)} -> ${enabled ? 'on' : 'off'}`, () => {
      const d = openTelemetryRequested(env);
      assert.equal(d.enabled, enabled, d.reason);
      assert.ok(d.reason.length > 0, 'a reason is given');
    });
  }

  test('off: nothing is started and headers stay empty', async () => {
    const otel = await startOpenTelemetry({ env: {} });
    assert.equal(otel.enabled, false);
    await withSpan('noop', {}, () => {
      assert.deepEqual(injectTraceContext({}), {});
    });
    await otel.shutdown();
  });
});

describe('request ids', () => {
  test("the caller's x-request-id when safe, else the traceparent's trace id, else a UUID", () => {
    assert.equal(requestIdFor({ 'x-request-id': 'abc-123' }), 'abc-123');
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    assert.equal(requestIdFor({ traceparent: tp }), '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(
      requestIdFor({ 'x-request-id': 'bad id\nwith newline', traceparent: tp }),
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    assert.match(requestIdFor({ 'x-request-id': 'x'.repeat(500) }), /^[0-9a-f-]{36}$/);
    assert.match(requestIdFor({}), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});

describe('with the SDK started (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let otel: OpenTelemetryHandle;
  before(async () => {
    otel = await startOpenTelemetry({ env: {}, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });
  after(async () => {
    await otel.shutdown();
  });
  /** The SDK exports ended spans asynchronously: wait until `n` arrived. */
  async function finished(n: number) {
    for (let i = 0; i < 100 && exporter.getFinishedSpans().length < n; i++)
      await new Promise((r) => setTimeout(r, 10));
    return exporter.getFinishedSpans();
  }

  test('trace context crosses message headers: the consumer span is a child of the producer span', async () => {
    exporter.reset();
    let headers: Record<string, string> = {};
    await withSpan('flows publish', { kind: SpanKind.PRODUCER }, () => {
      headers = injectTraceContext({ 'content-type': 'application/x-protobuf' });
    });
    assert.match(headers.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await withSpan(
      'flows process',
      { kind: SpanKind.CONSUMER, parent: extractTraceContext(headers) },
      () => {},
    );
    const [producer, consumer] = await finished(2);
    assert.equal(producer!.name, 'flows publish');
    assert.equal(consumer!.spanContext().traceId, producer!.spanContext().traceId);
    assert.equal(consumer!.parentSpanContext?.spanId, producer!.spanContext().spanId);
  });

  test('a batch from several producers links every distinct producer span', async () => {
    exporter.reset();
    const batch: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      await withSpan(`publish ${i}`, { kind: SpanKind.PRODUCER }, () => {
        const h = injectTraceContext();
        batch.push(h, { ...h }); // two messages from the same publish
      });
    }
    batch.push({}); // a message from a producer without tracing
    const links = linksFromHeaders(batch);
    assert.equal(links.length, 3);
    await withSpan('batch', { kind: SpanKind.CONSUMER, links }, () => {});
    const spans = await finished(4);
    const batchSpan = spans.find((s) => s.name === 'batch')!;
    assert.deepEqual(
      batchSpan.links.map((l) => l.context.spanId).sort(),
      spans
        .filter((s) => s.name.startsWith('publish'))
        .map((s) => s.spanContext().spanId)
        .sort(),
    );
  });

  test('tracePublish / traceConsume: the wrappers a publisher and a consumer need', async () => {
    exporter.reset();
    type Message = { key: string; headers?: Record<string, string> };
    const sent: Message[] = [];
    const result = await tracePublish(
      'flows-v1',
      [{ key: 'a', headers: { existing: 'kept' } }, { key: 'b' }],
      async (messages) => {
        sent.push(...messages);
        return 'published';
      },
    );
    assert.equal(result, 'published');
    assert.equal(sent[0]!.headers!.existing, 'kept');
    assert.equal(sent[0]!.headers!.traceparent, sent[1]!.headers!.traceparent);
    const consumed = sent.map((m) => ({ headers: m.headers ?? {} }));
    await traceConsume('flows-v1', consumed, () => {});
    // A batch mixing two publishes and an untraced message: links instead of a parent.
    await tracePublish<Message, number>('flows-v1', [{ key: 'c' }], async (m) => sent.push(...m));
    await traceConsume('flows-v1', [...consumed, { headers: sent[2]!.headers! }, { headers: {} }], () => {});
    const spans = await finished(4);
    const [p1, c1, p2, c2] = spans;
    assert.equal(p1!.name, 'flows-v1 publish');
    assert.equal(p1!.attributes['messaging.batch.message_count'], 2);
    assert.equal(c1!.name, 'flows-v1 process');
    assert.equal(c1!.parentSpanContext?.spanId, p1!.spanContext().spanId);
    assert.equal(c2!.parentSpanContext, undefined);
    assert.deepEqual(
      c2!.links.map((l) => l.context.spanId).sort(),
      [p1!.spanContext().spanId, p2!.spanContext().spanId].sort(),
    );
  });

  test('a failing span records the error and rethrows it', async () => {
    exporter.reset();
    await assert.rejects(
      withSpan('fails', {}, () => {
        throw new Error('database down');
      }),
      /database down/,
    );
    const [span] = await finished(1);
    assert.equal(span!.status.code, 2); // ERROR
    assert.equal(span!.events[0]?.name, 'exception');
  });

  test('log lines inside a span carry its trace and span ids, outside none', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    let ids = { traceId: '', spanId: '' };
    await withSpan('request', {}, (span) => {
      ids = span.spanContext();
      logger.info({ device: '10.20.20.13' }, 'inside');
    });
    logger.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(inside!.trace_id, ids.traceId);
    assert.equal(inside!.span_id, ids.spanId);
    assert.equal(inside!.device, '10.20.20.13');
    assert.equal(outside!.trace_id, undefined);
  });
});
