package sdk

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxLogSize caps the workspace log file; at the cap it is renamed to
// iscsdk.log.1 (replacing the previous one) and a new file is started, so
// the SDK never holds more than twice this on disk.
const maxLogSize = 4 << 20

// openLog opens the SDK's log in dir/logs/iscsdk.log at the given level
// (debug, info, warn, error, off). If the file cannot be opened the SDK logs
// nowhere: it never falls back to the host's stderr.
func openLog(dir, level string) (*slog.Logger, io.Closer) {
	lvl := slog.LevelInfo
	switch strings.ToLower(level) {
	case "off", "none":
		return slog.New(slog.DiscardHandler), io.NopCloser(nil)
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	w, err := openCappedFile(filepath.Join(dir, "logs", "iscsdk.log"), maxLogSize)
	if err != nil {
		return slog.New(slog.DiscardHandler), io.NopCloser(nil)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})).With("pid", os.Getpid()), w
}

// cappedFile is an append-only file that rotates once at max bytes.
type cappedFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

func openCappedFile(path string, max int64) (*cappedFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &cappedFile{path: path, max: max, f: f, size: st.Size()}, nil
}

func (c *cappedFile) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return len(p), nil // closed: drop silently rather than fail the caller
	}
	if c.size+int64(len(p)) > c.max {
		c.f.Close()
		_ = os.Rename(c.path, c.path+".1")
		f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			c.f = nil
			return len(p), nil
		}
		c.f, c.size = f, 0
	}
	n, err := c.f.Write(p)
	c.size += int64(n)
	return n, err
}

func (c *cappedFile) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}
