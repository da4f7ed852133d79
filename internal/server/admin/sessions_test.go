package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// The session listing shows a connected session, and not the hash of its
// resume token, which the store keeps beside it.
func TestSessionsShowNoResumeHash(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, WorkspaceDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stored, err := srv.Store().ListSessions(ctx)
	if err != nil || len(stored) != 1 || stored[0].ResumeHash == "" {
		t.Fatalf("the store holds %+v, %v; want one session with its resume hash", stored, err)
	}
	r := admin(t, srv, "GET", adminapi.Prefix+"/sessions", nil)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(stored[0].ID)) {
		t.Fatalf("GET /sessions: %d %s; want session %s", r.status, r.body, stored[0].ID)
	}
	if bytes.Contains(r.body, []byte(stored[0].ResumeHash)) || bytes.Contains(r.body, []byte("resumeHash")) {
		t.Errorf("GET /sessions shows the resume hash: %s", r.body)
	}
}
