// Pure NetFlow v5/v9, IPFIX and sFlow v5 decoder: bytes in, flow records out; no sockets, clocks, Kafka or logging.
export {
  type CapturedDatagram,
  CaptureFormatError,
  isCapture,
  readCaptureDatagrams,
} from './capture/pcap.ts';
export { decodePacket, expireHeld } from './decode.ts';
export { type DescribedField, describeField } from './describe.ts';
export { type InformationElement, informationElement, REVERSE_PEN } from './iana/elements.ts';
export type { AbstractDataType } from './iana/types.ts';
export type {
  DecodeContext,
  DecodeError,
  DecodeErrorCode,
  DecodeResult,
  DecodeStats,
  InterfaceCounters,
  OptionField,
  OptionsRecord,
  SequenceUnit,
} from './result.ts';
export { SFLOW_VERSION } from './result.ts';
export { splitExportPackets } from './split.ts';
export {
  createDecoderState,
  DEFAULT_LIMITS,
  type DecoderLimits,
  type DecoderOptions,
  type DecoderState,
  exportTemplates,
  importTemplates,
  type TemplateSnapshot,
} from './state.ts';
