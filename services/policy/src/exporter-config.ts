import { isIP } from 'node:net';

/** Exporters the API writes configuration for. */
export const VENDORS = ['cisco-iosxe', 'junos', 'mikrotik', 'fortigate', 'panos', 'softflowd'] as const;
export type Vendor = (typeof VENDORS)[number];

/** What to render: the collector to send to, and the exporter side's interface and sampling. */
export interface ExportSpec {
  vendor: Vendor;
  host: string;
  port: number;
  protocol: 'ipfix' | 'netflow-v9';
  interface?: string | undefined;
  sourceInterface?: string | undefined;
  samplingRate?: number | undefined;
}

/** Parses "host:port" or "[v6]:port"; a host is an address or a DNS name (nothing a CLI could misread). */
export function parseCollector(s: string): { host: string; port: number } | string {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(s);
  if (!m) return 'collector must be host:port (IPv6: [address]:port)';
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return 'collector port must be 1..65535';
  if (s.startsWith('[') && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  if (
    !s.startsWith('[') &&
    !isIP(host) &&
    !/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      host,
    )
  )
    return `${host} is not an address or a DNS name`;
  return { host, port };
}

/** Vendors whose export source is an address (Junos inline-jflow source-address, FortiOS source-ip), not an interface. */
export const SOURCE_IS_ADDRESS: ReadonlySet<Vendor> = new Set(['junos', 'fortigate']);

/** Which export protocols a vendor's platform can send. */
export const SUPPORTED: Record<Vendor, Array<'ipfix' | 'netflow-v9'>> = {
  'cisco-iosxe': ['ipfix', 'netflow-v9'],
  junos: ['ipfix', 'netflow-v9'],
  mikrotik: ['ipfix', 'netflow-v9'],
  fortigate: ['netflow-v9'],
  panos: ['netflow-v9'],
  softflowd: ['ipfix', 'netflow-v9'],
};

/** Renders the exporter configuration: flows with 60 s active and 15 s inactive timeouts to the collector. */
export function renderExporterConfig(s: ExportSpec): string {
  const iface = s.interface;
  const lines: string[] = [];
  switch (s.vendor) {
    case 'cisco-iosxe': {
      const v6 = isIP(s.host) === 6;
      lines.push(
        '! Wardwatch: Cisco IOS-XE Flexible NetFlow',
        'flow record WARDWATCH-V4',
        ' match ipv4 protocol',
        ' match ipv4 source address',
        ' match ipv4 destination address',
        ' match transport source-port',
        ' match transport destination-port',
        ' match interface input',
        ' collect interface output',
        ' collect transport tcp flags',
        ' collect counter bytes long',
        ' collect counter packets long',
        ' collect timestamp absolute first',
        ' collect timestamp absolute last',
        '!',
        'flow exporter WARDWATCH',
        ` destination ${v6 ? `${s.host}` : s.host}`,
        ...(s.sourceInterface ? [` source ${s.sourceInterface}`] : []),
        ` transport udp ${s.port}`,
        ` export-protocol ${s.protocol === 'ipfix' ? 'ipfix' : 'netflow-v9'}`,
        ' template data timeout 60',
        ' option interface-table',
        ' option sampler-table',
        '!',
        'flow monitor WARDWATCH',
        ' exporter WARDWATCH',
        ' record WARDWATCH-V4',
        ' cache timeout active 60',
        ' cache timeout inactive 15',
        '!',
      );
      if (s.samplingRate && s.samplingRate > 1)
        lines.push('sampler WARDWATCH', ` mode random 1 out-of ${s.samplingRate}`, '!');
      const sampler = s.samplingRate && s.samplingRate > 1 ? ' sampler WARDWATCH' : '';
      lines.push(
        `interface ${iface ?? 'GigabitEthernet0/0/1'}`,
        ` ip flow monitor WARDWATCH${sampler} input`,
        ` ip flow monitor WARDWATCH${sampler} output`,
        '!',
      );
      break;
    }
    case 'junos': {
      const tpl = s.protocol === 'ipfix' ? 'version-ipfix' : 'version9';
      const i = iface ?? 'ge-0/0/0';
      lines.push(
        '# Wardwatch: Junos inline flow monitoring (MX/SRX), load with "load set terminal"',
        `set services flow-monitoring ${tpl} template wardwatch-v4 ipv4-template`,
        `set services flow-monitoring ${tpl} template wardwatch-v4 flow-active-timeout 60`,
        `set services flow-monitoring ${tpl} template wardwatch-v4 flow-inactive-timeout 15`,
        `set services flow-monitoring ${tpl} template wardwatch-v4 template-refresh-rate seconds 60`,
        `set services flow-monitoring ${tpl} template wardwatch-v4 option-refresh-rate seconds 60`,
        `set forwarding-options sampling instance wardwatch input rate ${s.samplingRate ?? 1}`,
        `set forwarding-options sampling instance wardwatch family inet output flow-server ${s.host} port ${s.port}`,
        `set forwarding-options sampling instance wardwatch family inet output flow-server ${s.host} ${tpl} template wardwatch-v4`,
        `set forwarding-options sampling instance wardwatch family inet output inline-jflow source-address ${s.sourceInterface ?? '192.0.2.1'}`,
        'set chassis fpc 0 sampling-instance wardwatch',
        `set interfaces ${i} unit 0 family inet sampling input`,
        `set interfaces ${i} unit 0 family inet sampling output`,
      );
      break;
    }
    case 'mikrotik':
      lines.push(
        '# Wardwatch: MikroTik RouterOS traffic-flow',
        `/ip traffic-flow set enabled=yes interfaces=${iface ?? 'all'} active-flow-timeout=1m inactive-flow-timeout=15s` +
          (s.samplingRate && s.samplingRate > 1
            ? ` packet-sampling=yes sampling-interval=${s.samplingRate} sampling-space=1`
            : ''),
        `/ip traffic-flow target add dst-address=${s.host} port=${s.port} version=${s.protocol === 'ipfix' ? 'ipfix' : '9'}`,
      );
      break;
    case 'fortigate':
      lines.push(
        '# Wardwatch: FortiGate (FortiOS 7.2+; FortiOS exports NetFlow v9)',
        'config system netflow',
        '    config collectors',
        '        edit 1',
        `            set collector-ip ${s.host}`,
        `            set collector-port ${s.port}`,
        ...(s.sourceInterface ? [`            set source-ip ${s.sourceInterface}`] : []),
        '        next',
        '    end',
        '    set active-flow-timeout 60',
        '    set inactive-flow-timeout 15',
        '    set template-tx-timeout 60',
        'end',
        'config system interface',
        `    edit "${iface ?? 'port1'}"`,
        '        set netflow-sampler both',
        '    next',
        'end',
      );
      break;
    case 'panos':
      lines.push(
        '# Wardwatch: PAN-OS NetFlow v9 server profile (configure mode, then commit)',
        `set shared server-profile netflow Wardwatch server wardwatch host ${s.host} port ${s.port}`,
        'set shared server-profile netflow Wardwatch template-refresh-rate minutes 1 packets 20',
        'set shared server-profile netflow Wardwatch active-timeout 1',
        'set shared server-profile netflow Wardwatch export-enterprise-fields no',
        `set network interface ethernet ${iface ?? 'ethernet1/1'} layer3 netflow-profile Wardwatch`,
        'commit',
      );
      break;
    case 'softflowd': {
      const target = isIP(s.host) === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
      const args = [
        `-i ${iface ?? 'eth0'}`,
        `-n ${target}`,
        `-v ${s.protocol === 'ipfix' ? 10 : 9}`,
        '-T ether',
        '-t maxlife=60',
        '-t expint=15',
        ...(s.protocol === 'ipfix' ? ['-b'] : []),
        ...(s.samplingRate && s.samplingRate > 1 ? [`-s ${s.samplingRate}`] : []),
      ];
      lines.push(
        '# Wardwatch: softflowd (command line; Debian: options= in /etc/softflowd/default.conf)',
        `softflowd ${args.join(' ')}`,
      );
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}
