// Configuration, parsed and validated once at the edge: file + environment -> schema -> frozen object.
export { ConfigError, ENV as ENVIRONMENT_VARIABLES, type LoadConfigOptions, loadConfig } from './load.ts';
export { ConfigSchema, PRIVATE_NETWORKS, parseDuration, type WardwatchConfig } from './schema.ts';
