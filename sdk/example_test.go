package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"

	"github.com/iscsdk/iscsdk/sdk"
)

// A program connects once, handles events on the SDK's goroutine, and
// closes the client before it exits. With the Config fields empty the SDK
// reads ISCSDK_ENDPOINT, ISCSDK_TOKEN and ISCSDK_PRODUCT (as written by
// `iscd serve --dev` into dev.env), or the credentials file.
func Example() {
	c, err := sdk.Init(context.Background(), sdk.Config{AppVersion: "2024.1.3"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "iscsdk:", err)
		return
	}
	defer c.Close()
	c.OnEvent(func(e sdk.Event) {
		fmt.Printf("%s %s\n", e.Type, e.JSON())
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
}

// Init's errors say what went wrong, and errors.Is tells which kind.
func ExampleInit() {
	_, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: "ws://127.0.0.1:1/v1/session", Token: "isk_demo_secret", ProductID: "demo-cad",
		LogLevel: "off",
	})
	switch {
	case errors.Is(err, sdk.ErrUnauthorized):
		fmt.Println("the token was refused")
	case errors.Is(err, sdk.ErrUnreachable):
		fmt.Println("the service is unreachable")
	}
	// Output: the service is unreachable
}

// SaveAs makes a cloud file (or a new version of one) from a local file;
// Save later saves the local file back to where it went. Each call waits
// for its result.
func ExampleClient_SaveAs() {
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "bracket.prt")
	os.WriteFile(local, []byte("solid bracket\n"), 0o644)
	res, err := c.SaveAs(ctx, local, "/examples/bracket.prt", sdk.SaveOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("saved", res.CloudPath, "version", res.Version)

	os.WriteFile(local, []byte("solid bracket, filleted\n"), 0o644)
	if res, err = c.Save(ctx, local, sdk.SaveOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("saved", res.CloudPath, "version", res.Version)
	// Output:
	// saved /examples/bracket.prt version 1
	// saved /examples/bracket.prt version 2
}

// OpenFile downloads a cloud file into the workspace; with checkout the
// user holds it for editing until it is saved back with CheckIn.
func ExampleClient_OpenFile() {
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "gear.prt"), []byte("spur gear, 24 teeth\n"), 0o644)
	if _, err := c.SaveAs(ctx, filepath.Join(dir, "gear.prt"), "/examples/gear.prt", sdk.SaveOptions{CheckIn: true}); err != nil {
		fmt.Println(err)
		return
	}

	res, err := c.OpenFile(ctx, "/examples/gear.prt", sdk.OpenOptions{Checkout: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(res.MainFile)
	fmt.Printf("version %d checked out %v: %s", res.Version, res.CheckedOut, b)
	// Output: version 1 checked out true: spur gear, 24 teeth
}

// RequestLicense asks for this device's licence; the program checks it
// offline with its product's public key (compiled in; here from the
// environment) and reports what it found.
func ExampleClient_RequestLicense() {
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	l, err := c.RequestLicense(ctx, sdk.LicenseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := sdk.VerifyLicense(l.Content, os.Getenv("ISCSDK_LICENSE_PUBLIC_KEY"), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valid:", v.Valid, v.Code)
	if err := c.ReportLicenseCheck(ctx, v.Valid, v.Message); err != nil {
		fmt.Println(err)
	}
	// Output: valid: true ok
}

// Solve sends a model to the product's solver in the cloud and downloads
// its results beside the workspace.
func ExampleClient_Solve() {
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	res, err := c.Solve(ctx, "../examples/data/beam.inp", sdk.SolveOptions{})
	if err != nil {
		fmt.Println(err, res.LogTail)
		return
	}
	fmt.Println(res.Status, "exit code", res.ExitCode, "result field:", slices.Contains(res.Files, "beam.frd"))
	// Output: succeeded exit code 0 result field: true
}

// A program ported from the SDK CAD vendors already integrate keeps its
// calls: Init, RegisterEventRecall, Save, GetSolution, ShutOut. Each call
// returns a request id at once; its answer is an event with that id and
// the come-back JSON the call was given.
func ExampleDesk() {
	desk, err := sdk.InitDesk(context.Background(), sdk.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer desk.ShutOut()
	answers := make(chan sdk.Event, 16)
	desk.RegisterEventRecall(func(e sdk.Event) {
		switch e.Type {
		case sdk.EventSaveResult, sdk.EventSolutionResult:
			answers <- e
		}
	})

	model := "../examples/data/beam.inp"
	if _, err := desk.SaveAs(model, "/examples/beam.inp", false, json.RawMessage(`{"step":1}`)); err != nil {
		fmt.Println(err)
		return
	}
	e := <-answers
	fmt.Println(e.Operate, e.Params["status"], e.Params["cloudPath"], e.Params["version"], string(e.ComeBack))

	if _, err := desk.Save(model, false, json.RawMessage(`{"step":2}`)); err != nil {
		fmt.Println(err)
		return
	}
	e = <-answers
	fmt.Println(e.Operate, e.Params["status"], e.Params["cloudPath"], e.Params["version"], string(e.ComeBack))

	if _, err := desk.GetSolution(model, "", json.RawMessage(`{"step":3}`)); err != nil {
		fmt.Println(err)
		return
	}
	e = <-answers
	fmt.Println(e.Operate, e.Params["status"], e.Params["exitCode"], string(e.ComeBack))
	// Output:
	// SaveResult success /examples/beam.inp 1 {"step":1}
	// SaveResult success /examples/beam.inp 2 {"step":2}
	// SolutionResult success 0 {"step":3}
}

// A host without a callback polls for events, for example from its UI
// thread's idle handler.
func ExampleClient_PollEvent() {
	c, err := sdk.Init(context.Background(), sdk.Config{})
	if err != nil {
		return
	}
	defer c.Close()
	for {
		e, err := c.PollEvent(context.Background())
		if err != nil {
			return
		}
		fmt.Println(e.Type, e.Params)
	}
}

// Every event has the compatible JSON form that C and C++ hosts receive.
func ExampleEvent_JSON() {
	e := sdk.Event{Type: sdk.EventNotice, Operate: "Notice", Params: map[string]string{"title": "Maintenance", "text": "18:00"}}
	fmt.Println(string(e.JSON()))
	// Output: {"operate":"Notice","params":{"text":"18:00","title":"Maintenance"},"comeBackParams":{}}
}
