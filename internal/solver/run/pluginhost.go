package run

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/iscsdk/iscsdk/internal/solver/plugin"
)

// A plugin solve runs in the sandbox as a command: a plugin host (the iscd
// binary's `plugin-host` command, HostPlugin) loads the library in a
// process of its own, solves in its working directory, and writes the
// plugin's log lines on its standard output, with its percents as lines
// that begin with progressMark; Run reads them back as a plugin's. The
// host can be killed whatever the plugin does, and the plugin sees only
// its job, like any command.
const progressMark = "\x1eiscsdk-progress "

// PluginHostCommand is the command of iscd's plugin host.
const PluginHostCommand = "plugin-host"

// HostPlugin is the plugin host's main: `plugin-host LIBRARY ARGS_JSON`
// loads LIBRARY, solves in the working directory with ARGS_JSON, writes
// the log lines and progress marks on out, and returns the exit status:
// the plugin's status (0 solved; a negative one, canceled, is 125), 126
// when the library cannot be loaded or the solve fails outside the plugin.
func HostPlugin(ctx context.Context, args []string, out io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(out, "usage: iscd plugin-host LIBRARY ARGS_JSON")
		return 126
	}
	p, err := plugin.Open(args[0])
	if err != nil {
		fmt.Fprintln(out, err)
		return 126
	}
	defer p.Close()
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(out, err)
		return 126
	}
	code, err := p.Solve(ctx, dir, args[1], func(percent float64, line string) {
		if percent >= 0 {
			fmt.Fprintf(out, "%s%g\n", progressMark, percent)
		}
		if line != "" {
			fmt.Fprintln(out, strings.ReplaceAll(line, "\n", " "))
		}
	})
	switch {
	case err != nil && ctx.Err() == nil:
		fmt.Fprintln(out, err)
		return 126
	case code < 0 || ctx.Err() != nil:
		return 125
	}
	return min(code, 124)
}

// hostedPlugin is spec's plugin solve as a command of the plugin host,
// with the library's directory shown read-only.
func hostedPlugin(spec Spec) (Spec, error) {
	b, err := json.Marshal(struct {
		Input string   `json:"input"`
		Cores int      `json:"cores"`
		Args  []string `json:"args,omitempty"`
	}{spec.Main, max(spec.Cores, 1), spec.Args})
	if err != nil {
		return spec, err
	}
	lib, err := filepath.Abs(spec.PluginPath)
	if err != nil {
		return spec, err
	}
	spec.Command = Command{Program: spec.PluginHost, Args: []string{PluginHostCommand, lib, string(b)}, ReadOnly: []string{filepath.Dir(lib)}}
	spec.Plugin, spec.Args = nil, nil
	return spec, nil
}

// progressLine reads a plugin host's progress mark.
func progressLine(s string) (float64, bool) {
	v, ok := strings.CutPrefix(s, progressMark)
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseFloat(v, 64)
	return p, err == nil
}
