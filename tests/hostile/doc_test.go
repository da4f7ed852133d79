// Package hostile_test is the hostile-client suite: each test performs an
// attack that a customer holding one API token (or a captured request, or a
// hostile worker) could try against a real iscd and a real worker, and
// asserts that it fails with nothing leaked or lost.
//
// One file per boundary: sandbox_test.go (jobs confined to their
// directory, what a lease may ask a worker to run), keys_test.go (key
// material at rest, offline-signed releases, upgrade offers checked before
// download), admin_test.go (scoped admin
// tokens, iscctl's credentials), marketplace_test.go (signatures, replays,
// slow bodies), limits_test.go (memory, connections and time a client can
// hold), gates_test.go (licence gates), time_test.go (trusted time),
// paths_test.go (cloud and local paths, answers that do not fit),
// activation_test.go (the one-time secret of newInstance's appInfo),
// review_test.go (a second look: other organisations' ids on every session
// op, the token kind each endpoint takes, the solver time a worker may
// report), sync_test.go (the marketplace's sync interfaces: signatures,
// replays, bodies, the client secret's encryption, users whose access
// ends), signin_test.go (the device sign-in: polling too fast, a stolen
// refresh token replayed after rotation, another organisation's user
// code, guessing codes, a flood of starts), unifiedlogin_test.go (the
// marketplace's unified login: its callback from another browser, made-up
// and replayed codes, a revoked user, a withdrawn application or tenant,
// user info past its bounds),
// federation_test.go (the browser sign-in and OpenID Connect providers,
// against Ory Hydra: a provider's callback in another browser, a code
// intercepted on its way to the loopback, redirects off this machine, a
// sign-in steered to another organisation's provider, a flood of
// authorization requests), metrics_test.go (scrapes
// without the metrics token, label cardinality under made-up ops and
// paths), console_test.go (a customer's admin in the web console tries
// another organisation's ids on every page, live part and form; their
// session ends with their admin role), grant_test.go (operator grants:
// made by an owner only, never usable as an admin token, a granted user's
// console session ended when they are disabled).
//
// Where a test needs PostgreSQL it starts one (pgtest) and skips, saying
// so, without its binaries.
package hostile_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
