// Package license signs and verifies iscsdk licence documents: small,
// signed statements by iscd that an organisation may run a product
// (edition, features, validity window, lease, device binding), which a
// program checks offline with a public key compiled into it.
//
// A licence string reads
//
//	ISL1.<kid>.<base64url(payload)>.<base64url(signature)>
//
// where payload is the canonical JSON of a Document, and signature is
// Ed25519 over "iscsdk-license-v1\n" followed by the payload bytes, made
// with the product's signing key whose id is kid. Verification checks the
// signature over the exact bytes before it parses anything; see
// docs/licensing.md, "Licence documents", for every field, the checks and
// their result codes.
//
// Keys are per product and rotate: each has an id, documents name the key
// that signed them, and a program may carry several public keys
// (ParsePublicKeys). Signing keys stay in iscd, which stores them sealed
// under a key-encryption key (internal/envelope); public keys travel as
// "ISK1.<product>.<kid>.<base64url(key)>".
//
// A node-locked document carries no raw hardware ids: its Device is a
// device.Hashed salted with the licence id, matched against the running
// machine's fingerprint with the drift rule of package device.
package license
