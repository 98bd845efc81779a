// PostgreSQL access for every service: a pg pool on PostgreSQL or embedded PGlite, and the migrations.
export {
  connectionFor,
  type Database,
  type DatabaseOptions,
  openDatabase,
  withTransaction,
} from './database.ts';
export {
  migrate,
  pendingMigrations,
  prepareSchema,
  REPORTING_TABLES,
  reportingSchema,
  SchemaNotMigratedError,
} from './migrate.ts';
