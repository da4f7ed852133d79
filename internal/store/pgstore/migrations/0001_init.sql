-- iscd's metadata. Each record is kept whole in doc (the JSON the embedded
-- store keeps too); the columns beside it are what is looked up, ordered or
-- constrained. doc is json, not jsonb: jsonb refuses "\u0000", and records
-- keep any string a client sent. Paths and ids sort bytewise (COLLATE "C"),
-- as in bbolt.

CREATE TABLE orgs (
	id  text COLLATE "C" PRIMARY KEY,
	doc json NOT NULL
);

CREATE TABLE users (
	id     text COLLATE "C" PRIMARY KEY,
	org_id text NOT NULL REFERENCES orgs (id),
	doc    json NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE tokens (
	id      text COLLATE "C" PRIMARY KEY,
	user_id text NOT NULL, -- '' for admin tokens
	doc     json NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE products (
	id  text COLLATE "C" PRIMARY KEY,
	doc json NOT NULL
);

-- last_seq is the newest event ever appended: it survives acks and
-- retention, and goes with the session.
CREATE TABLE sessions (
	id       text COLLATE "C" PRIMARY KEY,
	doc      json NOT NULL,
	last_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
	session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	seq        bigint NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (session_id, seq)
);

CREATE TABLE licenses (
	id         text COLLATE "C" PRIMARY KEY,
	org_id     text NOT NULL,
	product_id text NOT NULL,
	doc        json NOT NULL
);
CREATE INDEX licenses_org ON licenses (org_id, product_id);

-- Seats are changed only by a transaction holding their licence's row lock
-- (SELECT ... FOR UPDATE), so counting and taking are one step.
CREATE TABLE seats (
	id         text COLLATE "C" PRIMARY KEY,
	license_id text NOT NULL,
	session_id text NOT NULL,
	leased     boolean NOT NULL, -- a floating lease (false: a node-locked binding)
	doc        json NOT NULL
);
CREATE INDEX seats_license ON seats (license_id);
CREATE INDEX seats_session ON seats (session_id);

CREATE TABLE product_keys (
	product_id text NOT NULL,
	id         text NOT NULL,
	doc        json NOT NULL,
	PRIMARY KEY (product_id, id)
);

CREATE TABLE audit (
	id         bigserial PRIMARY KEY,
	license_id text NOT NULL,
	doc        json NOT NULL
);
CREATE INDEX audit_license ON audit (license_id, id);

CREATE TABLE market_instances (
	id  text COLLATE "C" PRIMARY KEY,
	doc json NOT NULL
);

CREATE TABLE market_licenses (
	event_id text PRIMARY KEY,
	doc      json NOT NULL
);

CREATE TABLE market_codes (
	code_hash   text PRIMARY KEY, -- hex SHA-256 of the code
	instance_id text NOT NULL
);

CREATE TABLE files (
	org_id text NOT NULL,
	path   text COLLATE "C" NOT NULL,
	doc    json NOT NULL,
	PRIMARY KEY (org_id, path)
);

CREATE TABLE versions (
	org_id   text NOT NULL,
	path     text COLLATE "C" NOT NULL,
	number   integer NOT NULL,
	doc      json NOT NULL,
	manifest bytea NOT NULL,
	PRIMARY KEY (org_id, path, number)
);
