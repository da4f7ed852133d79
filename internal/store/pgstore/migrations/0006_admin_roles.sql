-- Admin tokens have a role (owner, licenses, releases, compute, read-only)
-- and may expire; products say what needs an active licence of them
-- (requireLicense). All of it lives in the records' doc. An admin token
-- made before roles could do everything: it becomes an owner's, said
-- explicitly (iscd reads a missing role as owner too).

UPDATE tokens SET doc = jsonb_set(doc::jsonb, '{role}', '"owner"')::json
WHERE user_id = '' AND doc->>'kind' = 'isa' AND doc->>'role' IS NULL;
