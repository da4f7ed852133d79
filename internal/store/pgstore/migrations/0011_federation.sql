-- Signing in through a browser (store.Federation): the flows under way
-- (hashes of their tokens and codes only), the organisations' OpenID
-- Connect providers (client secrets sealed under the KEK), and the links
-- from an upstream provider's user to iscd's.

CREATE TABLE browser_flows (
	id      text COLLATE "C" PRIMARY KEY,
	expires timestamptz NOT NULL,
	doc     json NOT NULL
);

CREATE TABLE oidc_providers (
	id     text COLLATE "C" PRIMARY KEY,
	org_id text COLLATE "C" NOT NULL REFERENCES orgs (id),
	doc    json NOT NULL
);

CREATE TABLE user_links (
	key     text COLLATE "C" PRIMARY KEY,
	user_id text COLLATE "C" NOT NULL REFERENCES users (id)
);
CREATE INDEX user_links_user ON user_links (user_id);
