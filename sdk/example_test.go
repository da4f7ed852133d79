package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/iscsdk/iscsdk/sdk"
)

// A program connects once, handles events on the SDK's goroutine, and shuts
// out before it exits. With the Config fields empty the SDK reads
// ISCSDK_ENDPOINT, ISCSDK_TOKEN and ISCSDK_PRODUCT (as written by
// `iscd serve --dev` into dev.env).
func Example() {
	c, err := sdk.Init(context.Background(), sdk.Config{AppVersion: "2024.1.3"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "iscsdk:", err)
		return
	}
	defer c.Close()
	sdk.NewDesk(c).RegisterEventRecall(func(e sdk.Event) {
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
