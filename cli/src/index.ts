// The wardwatch command and its one place of assembly (also used by the end-to-end tests).
export { type ServiceName, startWardwatch, type Wardwatch } from './assemble.ts';
