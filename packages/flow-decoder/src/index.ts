// Pure NetFlow/IPFIX decoder: bytes in, flow records out; no sockets, clocks, Kafka or logging.
export { decodePacket } from './decode.ts';
export type { DecodeContext, DecodeError, DecodeErrorCode, DecodeResult } from './result.ts';
