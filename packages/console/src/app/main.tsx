// The console's shell: sign-in, navigation by role, and the page for the current hash route.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, can, errorText, type Role, type Session, setCsrfToken, whenSignedOut } from './api.ts';
import { AdminPage } from './pages/admin.tsx';
import { AlertPage, AlertsPage } from './pages/alerts.tsx';
import { DevicePage } from './pages/device.tsx';
import { DevicesPage } from './pages/devices.tsx';
import { ExportersPage } from './pages/exporters.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { RequestsPage } from './pages/requests.tsx';
import { go, useRoute } from './util.tsx';

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const { data, error } = await api.POST('/v1/session', { body: { apiKey: key.trim() } });
    if (!data) return setError(errorText(error));
    setKey('');
    setCsrfToken(data.csrfToken);
    props.onSignedIn(data);
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Wardwatch</h1>
        <p>Sign in with an API key. The console keeps a session cookie, not the key.</p>
        <label>
          API key
          <input
            type="password"
            name="apiKey"
            autocomplete="off"
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Sign in</button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const NAV: Array<[string, string, Role]> = [
  ['overview', 'Overview', 'viewer'],
  ['devices', 'Devices', 'viewer'],
  ['alerts', 'Alerts', 'viewer'],
  ['requests', 'Requests', 'viewer'],
  ['policies', 'Policies', 'viewer'],
  ['exporters', 'Exporters', 'viewer'],
  ['admin', 'Admin', 'admin'],
];

function Page(props: { session: Session }) {
  const { parts, query } = useRoute();
  const role = props.session.role as Role;
  const [top = 'overview', id] = parts;
  switch (top) {
    case 'devices':
      return id ? <DevicePage ip={id} role={role} /> : <DevicesPage query={query} />;
    case 'alerts':
      return id ? <AlertPage id={Number(id)} role={role} /> : <AlertsPage role={role} query={query} />;
    case 'policies':
      return <PoliciesPage role={role} />;
    case 'requests':
      return <RequestsPage role={role} />;
    case 'exporters':
      return <ExportersPage role={role} />;
    case 'admin':
      return can(role, 'admin') ? <AdminPage /> : <p>Administration needs the admin role.</p>;
    default:
      return <OverviewPage />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const { parts } = useRoute();
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    api.GET('/v1/session').then(({ data }) => {
      setCsrfToken(data?.csrfToken ?? null);
      setSession(data ?? null);
    });
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  const signOut = async () => {
    await api.DELETE('/v1/session');
    setCsrfToken(null);
    setSession(null);
    go('/');
  };
  const role = session.role as Role;
  const here = parts[0] ?? 'overview';
  return (
    <>
      <nav class="top" aria-label="Main">
        <span class="brand">Wardwatch</span>
        {NAV.filter(([, , need]) => can(role, need)).map(([path, label]) => (
          <a href={`#/${path}`} aria-current={here === path ? 'page' : undefined}>
            {label}
          </a>
        ))}
        <span class="who">
          {session.name} · {session.role}
        </span>
        <button type="button" class="link signout" onClick={signOut}>
          Sign out
        </button>
      </nav>
      <main>
        <Page session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
