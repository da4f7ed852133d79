-- The marketplace's replay cache, shared by every replica: the signature
-- of each authenticated production-interface call, kept until its
-- timestamp can no longer be accepted (store.Marketplace.RememberRequest).

CREATE TABLE market_requests (
	key     text COLLATE "C" PRIMARY KEY,
	expires timestamptz NOT NULL
);

CREATE INDEX market_requests_expires ON market_requests (expires);
