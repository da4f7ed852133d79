//go:build !(darwin || freebsd || linux || netbsd || windows)

package plugin

import (
	"context"
	"errors"
	"fmt"
)

// Plugin is a loaded solver plugin. Native plugins are not supported on
// this platform: Open always fails.
type Plugin struct{}

// Open fails with errors.ErrUnsupported on this platform.
func Open(path string) (*Plugin, error) {
	return nil, fmt.Errorf("open solver plugin %s: %w", path, errors.ErrUnsupported)
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return "" }

// Path returns the file the plugin was loaded from.
func (p *Plugin) Path() string { return "" }

// Solve fails with ErrClosed.
func (p *Plugin) Solve(ctx context.Context, workdir, argsJSON string, progress func(percent float64, line string)) (int, error) {
	return 0, ErrClosed
}

// Close fails with ErrClosed.
func (p *Plugin) Close() error { return ErrClosed }
