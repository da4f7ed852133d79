-- What iscd owes the marketplace: usage records to push (each metering_sn
-- once), licences to deliver (each eventId once), the named leases that let
-- one replica at a time push, and the collector's marks.

CREATE TABLE usage_outbox (
	sn       text COLLATE "C" PRIMARY KEY,
	state    text NOT NULL,
	next_try timestamptz NOT NULL,
	begin_at timestamptz NOT NULL,
	created  timestamptz NOT NULL,
	doc      json NOT NULL
);
CREATE INDEX usage_outbox_due ON usage_outbox (begin_at, sn) WHERE state = 'pending';
CREATE INDEX usage_outbox_state ON usage_outbox (state, created);

CREATE TABLE deliveries (
	event_id text COLLATE "C" PRIMARY KEY,
	state    text NOT NULL,
	next_try timestamptz NOT NULL,
	created  timestamptz NOT NULL,
	doc      json NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (created) WHERE state = 'pending';

CREATE TABLE leases (
	name   text COLLATE "C" PRIMARY KEY,
	holder text NOT NULL,
	until  timestamptz NOT NULL
);

CREATE TABLE outbox_marks (
	name text COLLATE "C" PRIMARY KEY,
	at   timestamptz NOT NULL
);
