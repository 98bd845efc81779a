import { type Static, Type as T } from '@sinclair/typebox';
import { withTransaction } from '@wardwatch/storage';
import { audit } from '../audit.ts';
import type { App, RouteContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { BehaviourGroup, GroupLabelBody, IdParams, responses } from '../schemas.ts';

// Behaviour groups (issue 17): devices with alike communication profiles, kept by the analytics grouping job.
// An analyst labels a group's class once; every member, present and future, takes it (a device's own class
// override still wins), with the group as the evidence.

type Group = Static<typeof BehaviourGroup>;

/** The API's group object, as JSON text built by PostgreSQL from a behaviour_groups row `g`. */
const GROUP_JSON = `json_build_object('id', g.id, 'memberCount', g.members,
  'members', COALESCE((SELECT json_agg(json_build_object('ip', host(d.ip), 'similarity', d.group_similarity,
      'class', COALESCE(d.class_override, d.class), 'manufacturer', d.manufacturer) ORDER BY d.ip)
    FROM (SELECT * FROM devices WHERE group_id = g.id ORDER BY ip LIMIT 1000) d), '[]'::json),
  'sharedProfile', g.shared_profile, 'classVotes', g.class_votes,
  'label', CASE WHEN g.label_class IS NULL THEN NULL ELSE json_build_object('class', g.label_class,
    'labelledBy', g.labelled_by, 'labelledAt', to_char(g.labelled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) END,
  'updatedAt', to_char(g.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text`;

/** The members' class and evidence from their group's label (what the analytics grouping job also writes). */
const APPLY_LABEL = `UPDATE devices AS d SET class = g.label_class, class_confidence = COALESCE(d.group_similarity, 0),
    class_evidence = jsonb_build_array(jsonb_build_object(
      'rule', format('behaves like group %s (%s members), labelled by %s', g.id, g.members, g.labelled_by),
      'weight', round(COALESCE(d.group_similarity, 0)::numeric, 3))),
    updated_at = now()
  FROM behaviour_groups g WHERE g.id = $1 AND d.group_id = g.id AND g.label_class IS NOT NULL`;

/** Group routes: list, one, label. */
export function groupRoutes(app: App, ctx: RouteContext): void {
  const { db } = ctx;
  app.get(
    '/v1/groups',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'Behaviour groups: members (with similarity), shared profile, class votes, label',
        tags: ['groups'],
        response: responses({ 200: T.Object({ items: T.Array(BehaviourGroup) }) }),
      },
    },
    async () => {
      const { rows } = await db.pool.query<{ g: string }>(
        `SELECT ${GROUP_JSON} AS g FROM behaviour_groups g WHERE g.members > 0 OR g.label_class IS NOT NULL
         ORDER BY g.id LIMIT 10000`,
      );
      return { items: rows.map((r) => JSON.parse(r.g) as Group) };
    },
  );

  app.get(
    '/v1/groups/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: 'One behaviour group',
        tags: ['groups'],
        params: IdParams,
        response: responses({ 200: BehaviourGroup }),
      },
    },
    async (req) => {
      const { rows } = await db.pool.query<{ g: string }>(
        `SELECT ${GROUP_JSON} AS g FROM behaviour_groups g WHERE g.id = $1`,
        [req.params.id],
      );
      if (!rows[0]) throw notFound('GROUP_NOT_FOUND', `no group ${req.params.id}`);
      return JSON.parse(rows[0].g) as Group;
    },
  );

  app.put(
    '/v1/groups/:id/label',
    {
      config: { auth: 'analyst' },
      schema: {
        summary:
          "Label a group's class: every member, present and future, takes it (a device's class override still wins); null clears",
        tags: ['groups'],
        params: IdParams,
        body: GroupLabelBody,
        response: responses({ 200: BehaviourGroup }),
      },
    },
    async (req) => {
      const id = req.params.id;
      const cls = req.body.class;
      const by = req.principal?.name ?? 'unknown';
      return withTransaction(db.pool, async (client) => {
        const before = await client.query<{ label_class: string | null; labelled_by: string | null }>(
          'SELECT label_class, labelled_by FROM behaviour_groups WHERE id = $1 FOR UPDATE',
          [id],
        );
        if (!before.rows[0]) throw notFound('GROUP_NOT_FOUND', `no group ${id}`);
        await client.query(
          `UPDATE behaviour_groups SET label_class = $2, labelled_by = CASE WHEN $2::text IS NULL THEN NULL ELSE $3 END,
             labelled_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, updated_at = now() WHERE id = $1`,
          [id, cls, by],
        );
        if (cls !== null) await client.query(APPLY_LABEL, [id]);
        else {
          // Cleared: the members' class goes back to the signatures' at analytics' next classification.
          await client.query(
            `UPDATE devices SET class = 'unknown', class_confidence = 0, class_evidence = '[]'::jsonb, updated_at = now()
             WHERE group_id = $1 AND class_evidence->0->>'rule' LIKE 'behaves like group %'`,
            [id],
          );
        }
        await audit(client, req, {
          action: 'group.label',
          targetType: 'group',
          targetId: String(id),
          before: { class: before.rows[0].label_class, labelledBy: before.rows[0].labelled_by },
          after: { class: cls, labelledBy: cls === null ? null : by },
        });
        const after = await client.query<{ g: string }>(
          `SELECT ${GROUP_JSON} AS g FROM behaviour_groups g WHERE g.id = $1`,
          [id],
        );
        return JSON.parse(after.rows[0]!.g) as Group;
      });
    },
  );
}
