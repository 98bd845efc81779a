// NetFlow v9 and IPFIX export-packet writers: flow records in, datagrams out (simulator, tests, benchmarks).
export { createExportEncoder, type ExportEncoder, type ExportEncoderOptions } from './encoder.ts';
export { REVERSE_PEN } from './fields.ts';
