// ArcSight Common Event Format (CEF 0) inside an RFC 5424 syslog message:
//   <PRI>1 TIMESTAMP HOSTNAME wardwatch - ALERT - CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext
// Header fields escape "\" and "|"; extension values escape "\", "=" and line breaks (CEF spec, "Character
// Encoding").

const escHeader = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
const escExt = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/=/g, '\\=')
    .replace(/\r\n|\r|\n/g, '\\n');

/** CEF severity 0..10 for an alert severity. */
export const CEF_SEVERITY: Record<string, number> = { info: 1, low: 3, medium: 5, high: 8, critical: 10 };
/** Syslog severity (RFC 5424) for an alert severity. */
const SYSLOG_SEVERITY: Record<string, number> = { info: 6, low: 5, medium: 4, high: 3, critical: 2 };

/** The alert fields a CEF record carries. */
export interface CefAlert {
  id: number;
  deviceIp: string;
  kind: string;
  severity: string;
  status: string;
  title: string;
  lastSeen: string;
  occurrences: number;
  assignee?: string | null;
}

/** Formats one CEF record (no syslog header). */
export function formatCef(eventType: string, a: CefAlert, version = '0.1.0'): string {
  const ext: Array<[string, string | number]> = [
    ['rt', Date.parse(a.lastSeen) || Date.now()],
    [a.deviceIp.includes(':') ? 'c6a1' : 'src', a.deviceIp],
    ...(a.deviceIp.includes(':') ? ([['c6a1Label', 'Device']] as Array<[string, string]>) : []),
    ['externalId', a.id],
    ['cat', eventType],
    ['act', a.status],
    ['cnt', a.occurrences],
    ['cs1Label', 'alertKind'],
    ['cs1', a.kind],
    ['msg', a.title],
  ];
  if (a.assignee) ext.push(['suser', a.assignee]);
  const header = [
    'CEF:0',
    'Wardwatch',
    'Wardwatch',
    version,
    a.kind,
    a.title,
    String(CEF_SEVERITY[a.severity] ?? 5),
  ]
    .map((f, i) => (i === 0 ? f : escHeader(f)))
    .join('|');
  return `${header}|${ext.map(([k, v]) => `${k}=${escExt(String(v))}`).join(' ')}`;
}

/** Wraps a CEF record in an RFC 5424 syslog header (facility local4). */
export function syslogLine(cef: string, severity: string, hostname: string, at = new Date()): string {
  const pri = 20 * 8 + (SYSLOG_SEVERITY[severity] ?? 5);
  const host = hostname.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';
  return `<${pri}>1 ${at.toISOString()} ${host} wardwatch - ALERT - ${cef}`;
}
