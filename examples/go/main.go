// Command console connects to iscd with the Go sdk, asks for a licence and
// checks it offline, and prints every event until Ctrl-C, or for --seconds N.
// It uses the calls of the SDK CAD vendors already integrate (sdk.Desk), as
// the C and C++ examples do. With iscd's dev.env in the environment it needs
// no flags:
//
//	set -a; . iscd-data/dev.env; set +a; go run ./examples/go --seconds 10
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

func main() {
	seconds := flag.Int("seconds", 0, "shut out after this many seconds (0: at Ctrl-C)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *seconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*seconds)*time.Second)
		defer cancel()
	}

	desk, err := sdk.InitDesk(ctx, sdk.Config{}) // every setting from the environment
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	desk.RegisterEventRecall(func(e sdk.Event) {
		fmt.Printf("event %d %s request=%d %s\n", e.Type, e.Type, e.RequestID, e.JSON())
		if e.Type == sdk.EventLicenseVerify && e.RequestID != 0 && e.Params["Status"] == "success" {
			// Check the licence offline with the product's public key (a
			// real program compiles it in) and tell the service the verdict.
			res, err := sdk.VerifyLicense(e.Params["LicenseContent"], os.Getenv("ISCSDK_LICENSE_PUBLIC_KEY"), "")
			if err != nil {
				fmt.Println("licence check:", err)
				return
			}
			fmt.Printf("licence check: valid=%v code=%s edition=%s features=%v\n", res.Valid, res.Code, res.Edition, res.Features)
			desk.LicenseVerifyNotify(res.Valid, res.Message)
		}
	})
	// A licence for this device; the answer is a LicenseVerify event.
	if _, err := desk.GetLicenseStringRequest("", json.RawMessage(`{"from":"examples/go"}`)); err != nil {
		fmt.Fprintln(os.Stderr, "licence request:", err)
	}
	<-ctx.Done()
	if err := desk.ShutOut(); err != nil { // no event is printed after this
		fmt.Fprintln(os.Stderr, "shut out:", err)
		os.Exit(1)
	}
}
