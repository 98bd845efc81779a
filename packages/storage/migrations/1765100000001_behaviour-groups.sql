-- Up Migration
-- Behaviour groups (issue 17): devices whose learned communication profiles are alike, kept by the analytics
-- grouping job (services/analytics/src/grouping.ts). An analyst labels a group's class once
-- (policy API PUT /v1/groups/{id}/label); every member, present and future, takes it unless the device has
-- its own class_override.
CREATE TABLE behaviour_groups (
  id bigint PRIMARY KEY,
  members integer NOT NULL DEFAULT 0,
  -- [{feature, share}]: the features at least half the members hold.
  shared_profile jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- {class: members}: the members' inferred classes.
  class_votes jsonb NOT NULL DEFAULT '{}'::jsonb,
  label_class text,
  labelled_by text,
  labelled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row: when the grouping job last ran (several workers share the job; one runs it per interval).
CREATE TABLE behaviour_grouping (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  ran_at timestamptz NOT NULL
);

-- The device's group and its similarity to the group's shared profile (0..1). No index: rows stay HOT.
ALTER TABLE devices
  ADD COLUMN group_id bigint,
  ADD COLUMN group_similarity real;

-- Down Migration
ALTER TABLE devices DROP COLUMN group_id, DROP COLUMN group_similarity;
DROP TABLE behaviour_grouping;
DROP TABLE behaviour_groups;
