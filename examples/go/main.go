// Command console connects to iscd with the Go sdk, asks for a licence and
// checks it offline, and prints every event until Ctrl-C, or for --seconds N.
// It uses the calls of the SDK CAD vendors already integrate (sdk.Desk), as
// the C and C++ examples do. With iscd's dev.env in the environment it needs
// no flags:
//
//	set -a; . iscd-data/dev.env; set +a; go run ./examples/go --seconds 10
//
// --sign-in: with no API token (unset ISCSDK_TOKEN), the user signs in
// first, in the default browser (the device grant when none opens: an SSH
// session). --device (implies --sign-in): the device grant only: the
// program shows a page and a code, the user confirms the code there. The
// refresh token is kept, so the next start is signed in without a prompt.
package main

import (
	"context"
	"encoding/json"
	"errors"
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
	signIn := flag.Bool("sign-in", false, "with no API token: sign the user in, in the default browser")
	device := flag.Bool("device", false, "sign the user in with the device grant (a page and a code) instead")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Every other setting from the environment.
	desk, err := sdk.InitDesk(ctx, sdk.Config{SignIn: *signIn || *device})
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	desk.RegisterEventRecall(func(e sdk.Event) {
		fmt.Printf("event %d %s request=%d %s\n", e.Type, e.Type, e.RequestID, e.JSON())
		switch p := e.Params; {
		case e.Type == sdk.EventSignInPrompt && p["userCode"] != "": // the device grant
			fmt.Printf("sign in: open %s and confirm the code %s\n", p["verificationUri"], p["userCode"])
		case e.Type == sdk.EventSignInPrompt: // the browser, opened already
			fmt.Printf("sign in: continue in your browser (%s)\n", p["url"])
		case e.Type == sdk.EventSignedIn:
			fmt.Printf("signed in: %s (%s) of %s\n", p["name"], p["userId"], p["organisation"])
		}
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
	if *signIn || *device {
		// Blocks until the user signs in or refuses (a real program calls
		// it from a goroutine of its own). ErrSignedIn: already signed in
		// with the refresh token kept from the last time.
		err := desk.Client().SignIn(ctx, sdk.SignInOptions{Device: *device})
		if err != nil && !errors.Is(err, sdk.ErrSignedIn) {
			fmt.Fprintln(os.Stderr, "sign in:", err)
			desk.ShutOut()
			os.Exit(1)
		}
	}
	if *seconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*seconds)*time.Second)
		defer cancel()
	}
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
