-- PENDING: migration numbers must follow one another, and 0009 and 0010
-- are reserved for work not yet committed. Once they are, move this file
-- up to migrations/ (it is tested there: storetest's Identity suite and
-- tests/hostile TestSyncReplayToAnotherReplica run once it is in place).
--
-- What the marketplace's sync interfaces bring beside orgs and users (whose
-- new fields live in their docs): each org's department tree, kept whole in
-- one doc, and each org's unified-login client, its secret sealed under the
-- KEK (store.Identity).

CREATE TABLE departments (
	org_id text COLLATE "C" PRIMARY KEY REFERENCES orgs (id),
	doc    json NOT NULL
);

CREATE TABLE org_logins (
	org_id text COLLATE "C" PRIMARY KEY REFERENCES orgs (id),
	doc    json NOT NULL
);
