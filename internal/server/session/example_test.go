package session_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// A handler takes its request decoded and bounded; what is not its type
// never reaches it. The hub's ops are registered the same way, on the Hub:
// session.Handle(hub, wire.OpFilesStat, s.stat).
func ExampleHandle() {
	var r session.Router[string] // callers named by a string here
	session.Handle(&r, "files.have", func(_ context.Context, who string, req wire.FilesHave) (int, error) {
		return len(req.IDs), nil
	})
	ctx := context.Background()
	fmt.Println(r.Call(ctx, "ann", "files.have", json.RawMessage(`{"ids":["a","b"]}`)))
	fmt.Println(r.Call(ctx, "ann", "files.have", json.RawMessage(`{"ids":"a"}`)))
	fmt.Println(r.Call(ctx, "ann", "files.hove", nil))
	// Output:
	// 2 <nil>
	// <nil> bad_request: files.have: json: cannot unmarshal string into Go struct field FilesHave.ids of type []string
	// <nil> unknown_op: unknown op files.hove
}
