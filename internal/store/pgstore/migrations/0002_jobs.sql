-- The compute job queue. Times that order or expire jobs are kept in Unix
-- nanoseconds, exactly as the job records hold them.

CREATE TABLE solvers (
	product_id text COLLATE "C" NOT NULL REFERENCES products (id),
	name       text COLLATE "C" NOT NULL,
	doc        json NOT NULL,
	PRIMARY KEY (product_id, name)
);

CREATE TABLE jobs (
	id               text COLLATE "C" PRIMARY KEY,
	org_id           text NOT NULL,
	state            text NOT NULL,
	solver           text NOT NULL,
	created_ns       bigint NOT NULL,
	lease_expires_ns bigint, -- while running
	doc              json NOT NULL,
	inputs           bytea NOT NULL,
	outputs          bytea
);
-- Workers lease from the front of the queue (FOR UPDATE SKIP LOCKED).
CREATE INDEX jobs_queue ON jobs (created_ns, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_ns) WHERE state = 'running';
CREATE INDEX jobs_org ON jobs (org_id, created_ns);

CREATE TABLE usage (
	sn     text PRIMARY KEY,
	org_id text NOT NULL,
	end_ns bigint NOT NULL,
	doc    json NOT NULL
);
CREATE INDEX usage_org ON usage (org_id, end_ns);
