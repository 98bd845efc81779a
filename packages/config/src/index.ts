// Configuration, parsed and validated once at the edge: file + environment -> schema -> frozen object.
export { ConfigError, type LoadConfigOptions, loadConfig } from './load.ts';
export type { WardwatchConfig } from './schema.ts';
