package wire

// Events the SDK makes about signing in (docs/identity.md); the service
// never sends them.
const (
	// KindSignInPrompt: show the user where to confirm the sign-in:
	// params url (the page with the code filled in), verificationUri,
	// userCode, expires (RFC 3339).
	KindSignInPrompt int32 = 17
	// KindSignedIn: the user is signed in: params userId, name, email,
	// orgId, organisation, department, roles (comma-separated).
	KindSignedIn int32 = 18
	// KindSignedOut: the sign-in was revoked and forgotten (SignOut).
	KindSignedOut int32 = 19
)
