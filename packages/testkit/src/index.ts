// Test support: synthetic pcaps, the real softflowd and pmacctd (sFlow) exporters, throwaway database schemas, polling.
// The pcap writer is hospital-sim's (a runtime dependency of the CLI, so it cannot depend on this package).
export { buildPcap, ipLength, type SyntheticPacket, writePcap } from '@wardwatch/hospital-sim';
export { dropSchema, TEST_DATABASE_URL, TEST_KAFKA_BROKERS, uniqueName } from './db.ts';
export { isolatedStack } from './stack.ts';
export { startCommandArgs } from './start.ts';
export {
  ensureTool,
  hasTool,
  type PmacctdOptions,
  runPmacctdNfprobe,
  runSfprobe,
  runSoftflowd,
  type SfprobeOptions,
  type SoftflowdOptions,
  sfprobeExport,
  softflowdExport,
} from './tools.ts';
export { waitFor } from './wait.ts';
