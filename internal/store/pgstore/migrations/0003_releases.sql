-- The release catalogue. A withdrawn release keeps its row (its version is
-- never published again with other bytes) and loses its manifest.

CREATE TABLE releases (
	product_id text COLLATE "C" NOT NULL REFERENCES products (id),
	platform   text COLLATE "C" NOT NULL,
	version    text COLLATE "C" NOT NULL,
	withdrawn  boolean NOT NULL DEFAULT false,
	doc        json NOT NULL,
	manifest   bytea,
	PRIMARY KEY (product_id, platform, version)
);
