package sdk_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// Cancel right after GetSolution returned — before its solve has started
// — cancels it: the result says canceled, never success.
func TestGetSolutionCanceledAtOnceEndsCanceled(t *testing.T) {
	_, c := startCompute(t)
	model, args, _, release := waiterModel(t)
	if err := os.WriteFile(release, nil, 0o600); err != nil { // a solve that runs ends at once
		t.Fatal(err)
	}
	opts := `{"solver":"waiter","args":["` + args[0] + `","` + args[1] + `"]}`
	for range 10 {
		id, err := sdk.NewDesk(c).GetSolution(model, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sdk.NewDesk(c).Cancel(id); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id })
		if e.Params["status"] != "canceled" {
			t.Fatalf("request %d canceled at once ended %q: %+v", id, e.Params["status"], e.Params)
		}
	}
}
