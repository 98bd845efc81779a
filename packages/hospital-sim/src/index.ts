// A simulated hospital network for tests, benchmarks and demos: device classes with realistic schedules,
// peers and ports, plus injected attacks, as packets (for a pcap and a real exporter) or as flow records;
// and the repository's one pcap writer and seeded PRNG.
export {
  buildPcap,
  encodePcap,
  ethernetFrame,
  type Frame,
  ipLength,
  type SyntheticPacket,
  udpFrame,
  writePcap,
} from './pcap.ts';
export { routeByDevice } from './records.ts';
export { mulberry32 } from './rng.ts';
export {
  createScenario,
  type ExpectedAlert,
  type Scenario,
  type ScenarioOptions,
  type SimAlertKind,
  type SimClass,
  type SimDevice,
} from './scenario.ts';
export {
  ACK,
  bulk,
  ephemeral,
  FIN,
  PSH,
  RST,
  SYN,
  tcp,
  udp,
} from './traffic.ts';
