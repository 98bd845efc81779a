/**
 * Stable OpenAPI operationIds: SOC teams generate clients from the document, so a name, once given, never
 * changes. Known routes have a chosen name; a route added without one gets a name derived from its
 * method and path (`GET /v1/foo/:id/bar` -> `getFooByIdBar`), which is stable as long as the path is.
 */
const NAMES: Record<string, string> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'POST /v1/session': 'signIn',
  'GET /v1/session': 'getSession',
  'DELETE /v1/session': 'signOut',
  'GET /v1/overview': 'getOverview',
  'GET /v1/devices': 'listDevices',
  'GET /v1/devices.csv': 'exportDevicesCsv',
  'GET /v1/devices/:ip': 'getDevice',
  'PATCH /v1/devices/:ip': 'updateDevice',
  'GET /v1/devices/:ip/traffic': 'getDeviceTraffic',
  'GET /v1/devices/:ip/audit': 'listDeviceAudit',
  'POST /v1/devices/:ip/quarantine': 'quarantineDevice',
  'POST /v1/devices/:ip/release': 'releaseDevice',
  'GET /v1/devices/:ip/quarantines': 'listDeviceQuarantines',
  'GET /v1/devices/:ip/policy': 'getDevicePolicy',
  'POST /v1/devices/:ip/policy/learn': 'learnDevicePolicy',
  'GET /v1/devices/:ip/mud': 'getDeviceMud',
  'GET /v1/quarantines': 'listQuarantines',
  'GET /v1/feeds/quarantined.txt': 'getQuarantinedFeed',
  'GET /v1/feeds/policies/:id/devices.txt': 'getPolicyDevicesFeed',
  'GET /v1/feeds/policies/:id/allowed.txt': 'getPolicyAllowedFeed',
  'GET /v1/alerts': 'listAlerts',
  'GET /v1/alerts/:id': 'getAlert',
  'POST /v1/alerts/:id/acknowledge': 'acknowledgeAlert',
  'POST /v1/alerts/:id/resolve': 'resolveAlert',
  'POST /v1/alerts/:id/assign': 'assignAlert',
  'POST /v1/alerts/:id/comments': 'commentAlert',
  'POST /v1/alerts/bulk': 'bulkAlerts',
  'GET /v1/policies': 'listPolicies',
  'POST /v1/policies': 'createPolicy',
  'GET /v1/policies/:id': 'getPolicy',
  'PATCH /v1/policies/:id': 'updatePolicy',
  'DELETE /v1/policies/:id': 'deletePolicy',
  'POST /v1/policies/:id/assignments': 'assignPolicy',
  'GET /v1/policies/:id/violations': 'dryRunPolicy',
  'DELETE /v1/policies/:id/assignments/:assignmentId': 'unassignPolicy',
  'GET /v1/server-groups': 'listServerGroups',
  'PUT /v1/server-groups/:name': 'putServerGroup',
  'DELETE /v1/server-groups/:name': 'deleteServerGroup',
  'GET /v1/exporters': 'listExporters',
  'GET /v1/exporters/config': 'getExporterConfig',
  'GET /v1/webhooks': 'listWebhooks',
  'POST /v1/webhooks': 'createWebhook',
  'GET /v1/webhooks/:id': 'getWebhook',
  'PATCH /v1/webhooks/:id': 'updateWebhook',
  'DELETE /v1/webhooks/:id': 'deleteWebhook',
  'GET /v1/webhooks/:id/deliveries': 'listWebhookDeliveries',
  'POST /v1/webhooks/:id/deliveries/:deliveryId/retry': 'retryWebhookDelivery',
  'POST /v1/webhooks/:id/test': 'testWebhook',
  'GET /v1/apikeys': 'listApiKeys',
  'POST /v1/apikeys': 'createApiKey',
  'DELETE /v1/apikeys/:id': 'revokeApiKey',
  'GET /v1/audit': 'listAudit',
};

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** The operationId of a route. */
export function operationIdFor(method: string, url: string): string {
  const named = NAMES[`${method} ${url}`];
  if (named) return named;
  const words = url
    .split('/')
    .filter((s) => s && s !== 'v1')
    .map((s) => (s.startsWith(':') ? `By${pascal(s.slice(1))}` : pascal(s)));
  return `${method.toLowerCase()}${words.join('')}`;
}
