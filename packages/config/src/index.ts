// Configuration, parsed and validated once at the edge: file + environment -> schema -> frozen object.
export {
  apiTransportProblem,
  ConfigError,
  ENV as ENVIRONMENT_VARIABLES,
  isLoopbackHost,
  type LoadConfigOptions,
  loadConfig,
  weakSecret,
} from './load.ts';
export { ConfigSchema, PRIVATE_NETWORKS, type WardwatchConfig } from './schema.ts';
