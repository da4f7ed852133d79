-- A product key's doc.private is sealed now (internal/envelope):
-- "ISKE1.<KEK id>.<wrapped data key>.<sealed seed>", opened only with the
-- key-encryption key iscd is given at start, which the database never
-- holds. Keys an older iscd stored in clear are sealed by the first iscd
-- that starts with a KEK (licensing.Service.SealKeys), in Go: the schema
-- does not change, and no SQL here could seal them without the KEK.

COMMENT ON TABLE product_keys IS 'licence signing keys; doc.private is sealed under a KEK outside the database (ISKE1...)';
