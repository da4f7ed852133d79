-- The audit log listed across licences (store.Licenses.AuditLog): each
-- entry's organisation in a column of its own, indexed with the entry's
-- order, taken from the entry or else from its licence (entries written
-- before every entry named it); the entry's document names it too.

ALTER TABLE audit ADD COLUMN org_id text NOT NULL DEFAULT '';

UPDATE audit SET org_id = COALESCE(NULLIF(doc->>'orgId', ''),
	(SELECT licenses.org_id FROM licenses WHERE licenses.id = audit.license_id), '');

UPDATE audit SET doc = jsonb_set(doc::jsonb, '{orgId}', to_jsonb(org_id))::json
	WHERE org_id <> '' AND COALESCE(doc->>'orgId', '') = '';

CREATE INDEX audit_org ON audit (org_id, id);
