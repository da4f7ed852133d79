//go:build linux || darwin || freebsd || netbsd

package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/iscsdk/iscsdk/internal/solver/plugin"
)

// A worker runs a job with a native plugin: it loads the library once, then
// solves in the job's directory, forwarding progress and stopping when the
// job's context ends.
func Example() {
	p, err := plugin.Open("build/lib/libheat_solver.so")
	if err != nil {
		log.Fatal(err) // wraps plugin.ErrNotPlugin or plugin.ErrABIVersion for a wrong library
	}
	defer p.Close()

	ctx := context.Background() // the job's: canceled by the engineer, or its time limit
	code, err := p.Solve(ctx, "/var/lib/iscd/jobs/42", `{"input": "plate.heat"}`, func(percent float64, line string) {
		if line != "" {
			fmt.Printf("%5.1f%% %s\n", percent, line)
		}
	})
	switch {
	case errors.Is(err, plugin.ErrCanceled):
		fmt.Println("canceled")
	case err != nil:
		fmt.Println("plugin error:", err)
	case code != 0:
		fmt.Println("failed with exit code", code)
	default:
		fmt.Println("solved: result.csv and summary.txt are in the job's directory")
	}
}
