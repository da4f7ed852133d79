package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Every op's request is decoded in one place, before its handler runs: a
// body of the wrong shape is bad_request naming the op, one past a
// request's own bounds is too_large, no body is the request's zero value,
// and a handler that panics fails its request only. The real services'
// ops answer so over a raw session connection, as a client of another
// language would see them.
func TestRequestsDecodedOnce(t *testing.T) {
	srv := servertest.Start(t)
	got := make(chan wire.FilesVersion, 10) // what the handler was given, each time it ran
	session.Handle(srv.Hub(), "test.echo", func(_ context.Context, c session.Caller, req wire.FilesVersion) (wire.FilesVersion, error) {
		got <- req
		return req, nil
	})
	session.Handle(srv.Hub(), "test.panic", func(context.Context, session.Caller, struct{}) (any, error) {
		panic("a handler's bug")
	})
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	if w := recv(t, ws); w.Type != wire.TypeWelcome || !contains(w.Welcome.Capabilities, "test.echo") {
		t.Fatalf("welcome %+v", w.Welcome)
	}
	ids := make([]string, wire.MaxHaveBatch+1)
	for i := range ids {
		ids[i] = strings.Repeat("0", 64)
	}
	tooMany, _ := json.Marshal(wire.FilesHave{IDs: ids})
	for i, tc := range []struct {
		name, op, body, code, msg string
	}{
		{"wrong type", wire.OpFilesStat, `{"path":5}`, wire.CodeBadRequest, "files.stat: "},
		{"not an object", wire.OpJobsGet, `[1,2]`, wire.CodeBadRequest, "jobs.get: "},
		{"wrong type, licence", wire.OpLicenseRenew, `{"licenseId":true}`, wire.CodeBadRequest, "license.renew: "},
		{"too many ids", wire.OpFilesHave, string(tooMany), wire.CodeTooLarge, fmt.Sprintf("more than %d chunk ids", wire.MaxHaveBatch)},
		{"too long a cursor", wire.OpJobsList, `{"page":{"cursor":"` + strings.Repeat("c", wire.MaxCursorLen+1) + `"}}`, wire.CodeBadRequest, "cursor longer than"},
		{"a negative page", wire.OpFilesHistory, `{"path":"/a.prt","page":{"limit":-1}}`, wire.CodeBadRequest, "negative page limit"},
		{"too long a verdict", wire.OpLicenseNotify, `{"message":"` + strings.Repeat("x", wire.MaxNotifyMessage+1) + `"}`, wire.CodeTooLarge, "longer than 4096 bytes"},
		{"no body is the zero request", wire.OpFilesStat, ``, wire.CodeBadPath, ""},
		{"a panic", "test.panic", `{}`, wire.CodeInternal, "internal error"},
		{"unknown op", "no.such.op", `{}`, wire.CodeUnknownOp, "unknown op no.such.op"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &wire.Message{Type: wire.TypeRequest, ID: uint64(10 + i), Op: tc.op}
			if tc.body != "" {
				m.Body = json.RawMessage(tc.body)
			}
			send(t, ws, m)
			a := recv(t, ws)
			if a.ID != m.ID || a.Error == nil || a.Error.Code != tc.code || !strings.Contains(a.Error.Message, tc.msg) {
				t.Fatalf("answer %+v, error %+v; want %s %q", a, a.Error, tc.code, tc.msg)
			}
		})
	}
	// The connection still serves, and a handler gets its request decoded.
	send(t, ws, &wire.Message{Type: wire.TypeRequest, ID: 99, Op: "test.echo", Body: json.RawMessage(`{"path":"/a.prt","version":3}`)})
	if a := recv(t, ws); a.ID != 99 || a.Error != nil || len(got) != 1 || <-got != (wire.FilesVersion{Path: "/a.prt", Version: 3}) {
		t.Fatalf("answer %+v %+v; the handler ran %d times", a, a.Error, len(got))
	}
	// A binary frame's header is decoded the same way.
	frame, _ := wire.EncodeFrame(wire.Frame{Kind: wire.BinCommit, ID: 100, Header: json.RawMessage(`{"path":["/a.prt"]}`), Payload: []byte("x")})
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	if a := recv(t, ws); a.ID != 100 || a.Error == nil || a.Error.Code != wire.CodeBadRequest || !strings.Contains(a.Error.Message, "header") {
		t.Fatalf("commit with a bad header: %+v %+v", a, a.Error)
	}
	// And bounded as a request's body is.
	args := make([]string, wire.MaxJobArgs+1)
	for i := range args {
		args[i] = "x"
	}
	hdr, _ := json.Marshal(wire.JobSubmit{ID: strings.Repeat("0", 32), Main: "m.inp", Args: args})
	frame, _ = wire.EncodeFrame(wire.Frame{Kind: wire.BinJobSubmit, ID: 101, Header: hdr, Payload: []byte("x")})
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	if a := recv(t, ws); a.ID != 101 || a.Error == nil || a.Error.Code != wire.CodeTooLarge || !strings.Contains(a.Error.Message, "solver arguments") {
		t.Fatalf("submit with too many arguments: %+v %+v", a, a.Error)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
