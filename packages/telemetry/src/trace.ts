import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export type { Context, Span };
export { SpanKind };

/** The instrumentation scope of every Wardwatch span. */
export const TRACER_NAME = 'wardwatch';

/** The tracer of Wardwatch's own spans (a no-op until the SDK is started). */
export function getTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

const headerGetter = {
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | undefined>, key: string) => {
    const v = carrier[key] ?? carrier[key.toLowerCase()];
    return v === undefined ? undefined : String(v);
  },
};

/**
 * Writes the current trace context (W3C `traceparent`, `tracestate`, baggage) into message headers, so
 * a Kafka consumer can continue the producer's trace. Writes nothing while OpenTelemetry is off.
 */
export function injectTraceContext(
  headers: Record<string, string> = {},
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** The trace context carried by message headers (the root context when there is none). */
export function extractTraceContext(headers: Record<string, string | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/**
 * Span links to the producers of a consumed batch: one per distinct remote span (at most `max`), for a
 * consumer span that processes messages from many producers at once.
 */
export function linksFromHeaders(all: Iterable<Record<string, string | undefined>>, max = 64): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const headers of all) {
    if (links.length >= max) break;
    if (headers.traceparent === undefined) continue;
    const sc = trace.getSpanContext(extractTraceContext(headers));
    if (!sc || !isSpanContextValid(sc) || seen.has(sc.spanId)) continue;
    seen.add(sc.spanId);
    links.push({ context: sc });
  }
  return links;
}

/** Options of {@link withSpan}. */
export interface WithSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context (e.g. from {@link extractTraceContext}); default: the active context. */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span: ended when `fn` settles, with status ERROR and the exception
 * recorded when it throws. Costs next to nothing while OpenTelemetry is off.
 */
export async function withSpan<T>(
  name: string,
  opts: WithSpanOptions,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = getTracer().startSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes ?? {}, links: opts.links ?? [] },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** trace_id and span_id of the active span, for log lines; empty when there is none. */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** A message as the transports carry it: headers travel with the value (structural, no transport import). */
export interface MessageWithHeaders {
  headers?: Record<string, string> | undefined;
}

/**
 * Publishes inside a `PRODUCER` span named `<topic> publish`: every message gets the span's trace context
 * in its headers (added to any it has), then `publish` runs. The one call a publisher needs:
 * `await tracePublish(topic, messages, (m) => publisher.publish(topic, m))`.
 */
export function tracePublish<M extends object, T>(
  topic: string,
  messages: readonly M[],
  publish: (messages: Array<M & { headers: Record<string, string> }>) => Promise<T>,
): Promise<T> {
  return withSpan(
    `${topic} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.batch.message_count': messages.length,
      },
    },
    () => {
      // Empty while OpenTelemetry is off: the messages then keep just their own headers.
      const carrier = injectTraceContext({});
      // `M extends object`, not MessageWithHeaders: a weak (all-optional) constraint would reject message
      // types that declare no `headers`. Every transport message may carry headers.
      return publish(
        messages.map((m) => ({ ...m, headers: { ...(m as MessageWithHeaders).headers, ...carrier } })),
      );
    },
  );
}

/**
 * Processes a consumed batch inside a `CONSUMER` span named `<topic> process`: a child of the producer's
 * span when the whole batch came from one publish, otherwise linked to every producer span in it.
 */
export function traceConsume<T>(
  topic: string,
  messages: readonly { headers: Record<string, string | undefined> }[],
  process: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parents = new Set(messages.map((m) => m.headers.traceparent));
  const single = parents.size === 1 && !parents.has(undefined);
  return withSpan(
    `${topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.batch.message_count': messages.length,
      },
      parent: single ? extractTraceContext(messages[0]!.headers) : ROOT_CONTEXT,
      links: single ? [] : linksFromHeaders(messages.map((m) => m.headers)),
    },
    process,
  );
}
