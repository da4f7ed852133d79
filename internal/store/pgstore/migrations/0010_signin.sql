-- Sign-in from the desktop (store.SignIns): device authorization grants,
-- found by the id the user code gives, and refresh-token families. Both
-- keep only hashes of their secrets.

CREATE TABLE device_grants (
	id      text COLLATE "C" PRIMARY KEY,
	expires timestamptz NOT NULL,
	doc     json NOT NULL
);

CREATE TABLE refresh_families (
	id      text COLLATE "C" PRIMARY KEY,
	user_id text COLLATE "C" NOT NULL REFERENCES users (id),
	doc     json NOT NULL
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
