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
