// Test support: synthetic pcaps, the real softflowd and pmacctd (sFlow) exporters, throwaway database schemas, polling.
export { dropSchema, TEST_DATABASE_URL, TEST_KAFKA_BROKERS, uniqueName } from './db.ts';
export { buildPcap, ipLength, type SyntheticPacket, writePcap } from './pcap.ts';
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
} from './tools.ts';
export { waitFor } from './wait.ts';
