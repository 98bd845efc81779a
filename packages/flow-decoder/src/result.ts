import type { FlowRecord } from '@wardwatch/flow-schema';

/** Stable codes for packets that cannot be decoded. */
export type DecodeErrorCode = 'TRUNCATED' | 'UNSUPPORTED_VERSION' | 'MALFORMED';

/** Why a packet (or its remainder) could not be decoded. */
export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
}

/** Where and when a packet was received; the decoder never reads clocks or sockets itself. */
export interface DecodeContext {
  /** Exporter address (the UDP source address). */
  exporter: string;
  /** Receive time, Unix milliseconds. */
  receivedMs: number;
}

/** The outcome of decoding one export packet: records, or a typed error. */
export type DecodeResult =
  | { ok: true; version: number; records: FlowRecord[] }
  | { ok: false; version: number; error: DecodeError };
