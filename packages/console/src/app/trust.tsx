// Exporter trust shared by the overview and the Exporters page: the trust table by address, and the
// state as a tag with its source.
import { api, type ExporterTrust, must } from './api.ts';
import { Tag, useLoad } from './util.tsx';

/** The trust table (GET /v1/exporters/trust) keyed by exporter address, polled with the health list. */
export function useTrust(every: number) {
  const load = useLoad(
    async () => {
      const { items } = await must(api.GET('/v1/exporters/trust'));
      return new Map(items.map((t) => [t.address, t]));
    },
    [],
    every,
  );
  return load;
}

/** An exporter's trust state (trusted / pending / blocked) and where it came from. */
export function TrustState(props: { trust: ExporterTrust | undefined }) {
  const t = props.trust;
  if (!t) return <Tag value="unknown" />;
  return (
    <span data-testid="trust-state" data-state={t.state}>
      <Tag value={t.state} /> <small>{t.source}</small>
    </span>
  );
}
