import type pg from 'pg';
import { isPeriodic } from './detect.ts';
import {
  featuresOfProfile,
  GROUP_THRESHOLD,
  type GroupInput,
  groupProfiles,
  similarity,
  wellObservedGains,
} from './groups.ts';
import type { DeviceModel } from './model/device-model.ts';

// The grouping job: reads every device's communication profile, groups the devices by behaviour
// (groups.ts), and writes the groups, each device's group and similarity, the class of the members of
// labelled groups and `behaviour_changed` alerts, in one transaction. Several workers share the database:
// an advisory lock and `behaviour_grouping.ran_at` make one of them run it once per interval.

/** An analyst's label of a group, as a member device takes it. */
export interface GroupLabel {
  class: string;
  group: number;
  members: number;
  labelledBy: string;
  /** The device's similarity to the group's shared profile. */
  similarity: number;
}

/** What one run did. */
export interface RegroupResult {
  /** False when another worker holds the job or ran it within the interval. */
  ran: boolean;
  devices: number;
  groups: number;
  /** Devices whose group changed. */
  moved: number;
  /** `behaviour_changed` alerts raised. */
  behaviourChanged: number;
  /** Devices whose class a group label set. */
  labelled: number;
}

/** The grouping job of one worker. */
export interface GroupingJob {
  /** Regroups now unless another worker did within the interval (`force`: regardless of the interval). */
  run(opts?: { force?: boolean }): Promise<RegroupResult>;
  /** Re-reads the devices' groups and their labels. */
  loadLabels(): Promise<void>;
  /** A device's group label, as last read. */
  labelOf(ip: string): GroupLabel | undefined;
  /** A device's group (its id, members and shared profile), as last read. */
  groupOf(ip: string): DeviceGroup | undefined;
}

/** A device's behaviour group as the detections see it. */
export interface DeviceGroup {
  id: number;
  members: number;
  /** The features at least half the members hold (groups.ts). */
  shared: ReadonlySet<string>;
}

/** The evidence a labelled group gives its members' class. */
export function labelEvidence(
  l: GroupLabel,
  similarityToGroup: number,
): Array<{ rule: string; weight: number }> {
  return [
    {
      rule: `behaves like group ${l.group} (${l.members} members), labelled by ${l.labelledBy}`,
      weight: Math.round(similarityToGroup * 1000) / 1000,
    },
  ];
}

// Per schema: deployments (and tests) sharing a database in schemas of their own do not block each other.
const LOCK = "hashtext('wardwatch.behaviour_groups:' || current_schema())";
const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;

interface DeviceRow {
  ip: string;
  cls: string;
  group_id: string | null;
  first_seen: number;
  last_seen: number;
  learned_at: number | null;
  last_sent: number | null;
  max_send_gap_ms: string;
  /** Sampled packets sent during learning: 0 when learning was unsampled (migration 1765320000000). */
  learned_samples: string;
}

/** Creates the job; `intervalMs` is the least wall-clock time between two runs across workers. */
export function createGroupingJob(
  pool: pg.Pool,
  opts: { intervalMs: number; threshold?: number },
): GroupingJob {
  const threshold = opts.threshold ?? GROUP_THRESHOLD;
  let labels = new Map<string, GroupLabel>();
  let groups = new Map<string, DeviceGroup>();

  async function loadLabels(): Promise<void> {
    const res = await pool.query<{
      ip: string;
      id: string;
      label_class: string | null;
      labelled_by: string | null;
      members: number;
      similarity: number | null;
    }>(
      `SELECT host(d.ip) AS ip, g.id, g.label_class, g.labelled_by, g.members, d.group_similarity AS similarity
       FROM devices d JOIN behaviour_groups g ON g.id = d.group_id`,
    );
    const shared = await pool.query<{ id: string; shared_profile: Array<{ feature: string }> }>(
      'SELECT id, shared_profile FROM behaviour_groups WHERE members > 0',
    );
    const sharedOf = new Map(
      shared.rows.map((g) => [Number(g.id), new Set((g.shared_profile ?? []).map((x) => x.feature))]),
    );
    const nextLabels = new Map<string, GroupLabel>();
    const nextGroups = new Map<string, DeviceGroup>();
    for (const r of res.rows) {
      const id = Number(r.id);
      nextGroups.set(r.ip, { id, members: r.members, shared: sharedOf.get(id) ?? new Set() });
      if (r.label_class !== null)
        nextLabels.set(r.ip, {
          class: r.label_class,
          group: id,
          members: r.members,
          labelledBy: r.labelled_by ?? 'unknown',
          similarity: r.similarity ?? 0,
        });
    }
    labels = nextLabels;
    groups = nextGroups;
  }

  async function run(runOpts: { force?: boolean } = {}): Promise<RegroupResult> {
    const none: RegroupResult = {
      ran: false,
      devices: 0,
      groups: 0,
      moved: 0,
      behaviourChanged: 0,
      labelled: 0,
    };
    const client = await pool.connect();
    let result = none;
    try {
      await client.query('BEGIN');
      const lock = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${LOCK}) AS ok`);
      if (!lock.rows[0]?.ok) {
        await client.query('ROLLBACK');
        return none;
      }
      if (!runOpts.force) {
        const last = await client.query<{ recent: boolean }>(
          `SELECT ran_at > now() - make_interval(secs => $1) AS recent FROM behaviour_grouping`,
          [opts.intervalMs / 1000],
        );
        if (last.rows[0]?.recent) {
          await client.query('ROLLBACK');
          return none;
        }
      }
      result = await regroup(client, threshold);
      await client.query(
        `INSERT INTO behaviour_grouping (singleton, ran_at) VALUES (true, now())
         ON CONFLICT (singleton) DO UPDATE SET ran_at = EXCLUDED.ran_at`,
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    await loadLabels();
    return result;
  }

  return { run, loadLabels, labelOf: (ip) => labels.get(ip), groupOf: (ip) => groups.get(ip) };
}

async function regroup(client: pg.PoolClient, threshold: number): Promise<RegroupResult> {
  // One client, one query at a time (a pg client runs its queries in turn anyway).
  const devices = await client.query<DeviceRow>(
    `SELECT host(d.ip) AS ip, d.class AS cls, d.group_id, ${ms('d.first_seen')} AS first_seen,
         ${ms('d.last_seen')} AS last_seen, ${ms('d.learned_at')} AS learned_at, ${ms('d.last_sent')} AS last_sent,
         d.max_send_gap_ms, d.learned_samples
       FROM devices d WHERE EXISTS (SELECT 1 FROM device_profiles p WHERE p.device_ip = d.ip)`,
  );
  const profiles = await client.query<{
    ip: string;
    peer: string;
    service_port: number;
    protocol: number;
    direction: string;
    peer_internal: boolean;
    flows: string;
  }>(
    `SELECT host(device_ip) AS ip, peer::text AS peer, service_port, protocol, direction, peer_internal, flows
       FROM device_profiles`,
  );
  const stored = await client.query<{
    id: string;
    members: number;
    shared_profile: Array<{ feature: string }>;
    label_class: string | null;
    labelled_by: string | null;
  }>('SELECT id, members, shared_profile, label_class, labelled_by FROM behaviour_groups');
  const entries = new Map<string, GroupInput['entries'][number][]>();
  for (const r of profiles.rows) {
    let list = entries.get(r.ip);
    if (!list) {
      list = [];
      entries.set(r.ip, list);
    }
    list.push({
      peer: r.peer,
      port: r.service_port,
      proto: r.protocol,
      dir: r.direction === 'inbound' ? 'inbound' : 'outbound',
      internal: r.peer_internal,
      flows: Number(r.flows),
    });
  }
  const inputs: GroupInput[] = devices.rows.map((d) => ({
    ip: d.ip,
    class: d.cls,
    entries: entries.get(d.ip) ?? [],
    periodic: isPeriodic({
      lastSent: d.last_sent ?? 0,
      maxSendGap: Number(d.max_send_gap_ms),
      firstSeen: d.first_seen,
    }),
  }));
  const previous = new Map<string, number>();
  for (const d of devices.rows) if (d.group_id !== null) previous.set(d.ip, Number(d.group_id));
  let maxId = 0;
  for (const g of stored.rows) maxId = Math.max(maxId, Number(g.id));
  const grouping = groupProfiles(inputs, { previous, threshold, nextId: maxId + 1 });
  const oldGroups = new Map(stored.rows.map((g) => [Number(g.id), g]));

  // Leaving a group after learning: the device moved away from its old group's shared profile (a merge or
  // split of groups does not move a device away from what it shared with its group, so it raises nothing).
  const byIp = new Map(devices.rows.map((d) => [d.ip, d]));
  const alerts: Array<{ ip: string; title: string; evidence: string; at: number }> = [];
  const movedEvents: string[] = [];
  let moved = 0;
  inputs.forEach((input) => {
    const d = byIp.get(input.ip)!;
    const now = grouping.byDevice.get(input.ip)!;
    const before = previous.get(input.ip);
    if (before === now.group) return;
    movedEvents.push(
      JSON.stringify({
        device: {
          ip: input.ip,
          group: now.group,
          groupSimilarity: now.similarity,
          previousGroup: before ?? null,
        },
      }),
    );
    if (before === undefined) return;
    moved++;
    const old = oldGroups.get(before);
    if (!old || d.learned_at === null || d.last_seen < d.learned_at) return;
    const features = featuresOfProfile(input);
    const oldShared = new Set((old.shared_profile ?? []).map((s) => s.feature));
    const toOld = similarity(features, oldShared);
    if (toOld >= threshold) return;
    // Learnt from sampled flows: only a new behaviour seen often enough shows that the device left its
    // group (as news needs sightings under sampling, sampling.ts); a thin profile filling in does not.
    if (Number(d.learned_samples) > 0 && wellObservedGains(input, oldShared).length === 0) return;
    const gained = [...features].filter((f) => !oldShared.has(f)).slice(0, 20);
    const lost = [...oldShared].filter((f) => !features.has(f)).slice(0, 20);
    alerts.push({
      ip: input.ip,
      title: `Left behaviour group ${before} (${old.members} members) for group ${now.group}`,
      evidence: JSON.stringify({
        fromGroup: before,
        toGroup: now.group,
        similarityToOldGroup: Math.round(toOld * 1000) / 1000,
        similarityToNewGroup: now.similarity,
        gained,
        lost,
        oldGroupLabel: old.label_class,
      }),
      at: d.last_seen,
    });
  });

  // Groups: upsert the current ones, drop the empty unlabelled ones (a labelled group keeps its label for
  // devices that come to behave like it again).
  const gs = grouping.groups;
  await client.query(
    `INSERT INTO behaviour_groups AS g (id, members, shared_profile, class_votes)
     SELECT u.id, u.n, u.shared::jsonb, u.votes::jsonb
     FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) AS u(id, n, shared, votes)
     ON CONFLICT (id) DO UPDATE SET members = EXCLUDED.members, shared_profile = EXCLUDED.shared_profile,
       class_votes = EXCLUDED.class_votes, updated_at = now()`,
    [
      gs.map((g) => g.id),
      gs.map((g) => g.members.length),
      gs.map((g) => JSON.stringify(g.shared)),
      gs.map((g) => JSON.stringify(g.votes)),
    ],
  );
  const ids = gs.map((g) => g.id);
  await client.query('DELETE FROM behaviour_groups WHERE id <> ALL($1::bigint[]) AND label_class IS NULL', [
    ids,
  ]);
  await client.query('UPDATE behaviour_groups SET members = 0 WHERE id <> ALL($1::bigint[])', [ids]);
  const ips = [...grouping.byDevice.keys()];
  await client.query(
    `UPDATE devices AS d SET group_id = u.g, group_similarity = u.s
     FROM unnest($1::inet[], $2::bigint[], $3::real[]) AS u(ip, g, s)
     WHERE d.ip = u.ip AND (d.group_id, d.group_similarity) IS DISTINCT FROM (u.g, u.s)`,
    [
      ips,
      ips.map((ip) => grouping.byDevice.get(ip)!.group),
      ips.map((ip) => grouping.byDevice.get(ip)!.similarity),
    ],
  );
  // Members of labelled groups take the label as their class (an analyst's device override still wins,
  // being a column of its own), with the group as evidence.
  const labelled = await client.query(
    `UPDATE devices AS d SET class = g.label_class, class_confidence = COALESCE(d.group_similarity, 0),
       class_evidence = jsonb_build_array(jsonb_build_object(
         'rule', format('behaves like group %s (%s members), labelled by %s', g.id, g.members, g.labelled_by),
         'weight', round(COALESCE(d.group_similarity, 0)::numeric, 3))),
       updated_at = now()
     FROM behaviour_groups g
     WHERE g.id = d.group_id AND g.label_class IS NOT NULL
       AND (d.class IS DISTINCT FROM g.label_class OR d.class_evidence->0->>'rule' IS DISTINCT FROM
         format('behaves like group %s (%s members), labelled by %s', g.id, g.members, g.labelled_by))`,
  );
  // The policy service's outbox (webhooks), when its migration is present: a device joined or changed group.
  const outbox = await client.query<{ t: string | null }>(`SELECT to_regclass('events')::text AS t`);
  if (movedEvents.length > 0 && outbox.rows[0]?.t != null) {
    await client.query(
      `INSERT INTO events (type, payload) SELECT 'device.group_changed', u.p::jsonb FROM unnest($1::text[]) AS u(p)`,
      [movedEvents],
    );
  }
  if (alerts.length > 0) {
    await client.query(
      `INSERT INTO alerts AS a (device_ip, kind, severity, title, evidence, first_seen, last_seen)
       SELECT u.ip, 'behaviour_changed', 'medium', u.title, u.ev::jsonb, to_timestamp(u.at / 1000.0),
         to_timestamp(u.at / 1000.0)
       FROM unnest($1::inet[], $2::text[], $3::text[], $4::float8[]) AS u(ip, title, ev, at)
       ON CONFLICT (device_ip, kind) WHERE status <> 'resolved' DO UPDATE SET
         title = EXCLUDED.title, evidence = EXCLUDED.evidence,
         last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen), occurrences = a.occurrences + 1, updated_at = now()`,
      [
        alerts.map((a) => a.ip),
        alerts.map((a) => a.title),
        alerts.map((a) => a.evidence),
        alerts.map((a) => a.at),
      ],
    );
  }
  return {
    ran: true,
    devices: inputs.length,
    groups: gs.length,
    moved,
    behaviourChanged: alerts.length,
    labelled: labelled.rowCount ?? 0,
  };
}

/** Gives the cached models of labelled groups' members their group's class (what the job wrote to `devices`). */
export function applyLabels(models: Iterable<DeviceModel>, job: GroupingJob): void {
  for (const m of models) {
    const l = job.labelOf(m.ip);
    if (l && m.inferredClass !== l.class) {
      m.inferredClass = l.class;
      m.classConfidence = l.similarity;
    }
  }
}
