// Builds Wardwatch's Grafana dashboards (deploy/grafana/dashboards/*.json) from one description, so every
// panel shares the same data sources, units and links (helpers and one module per dashboard in
// build-dashboards/). Run after editing:
//   node --import tsx deploy/grafana/build-dashboards.ts
// test/ecosystem-grafana.test.ts checks the JSON is current and runs every panel's SQL on the real schema.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { device } from './build-dashboards/device.ts';
import { exporters } from './build-dashboards/exporters.ts';
import { fleet } from './build-dashboards/fleet.ts';
import type { Json } from './build-dashboards/panels.ts';
import { pipeline } from './build-dashboards/pipeline.ts';

export { POSTGRES, PROMETHEUS } from './build-dashboards/panels.ts';

/** Every dashboard, by file name. */
export function buildDashboards(): Record<string, Json> {
  return {
    'fleet-overview.json': fleet(),
    'device-drilldown.json': device(),
    'exporter-health.json': exporters(),
    'pipeline-health.json': pipeline(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
  for (const [name, json] of Object.entries(buildDashboards())) {
    writeFileSync(join(dir, name), `${JSON.stringify(json, null, 2)}\n`);
    console.log(`wrote ${join(dir, name)}`);
  }
}
