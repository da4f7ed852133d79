package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/release"
)

// devReleaseKeyFile is where dev mode keeps the release key it made.
const devReleaseKeyFile = "dev-release.key"

// devReleaseKey returns dev mode's release key, made on the first dev
// start. A vendor keeps its release key offline and iscd never sees it;
// dev mode holds one only so that `make demo` and the tests can sign what
// they publish (iscctl release publish reads $ISCD_RELEASE_KEY_FILE).
func (s *Server) devReleaseKey() (release.PrivateKey, string, error) {
	path, err := filepath.Abs(filepath.Join(s.cfg.DataDir, devReleaseKeyFile))
	if err != nil {
		return release.PrivateKey{}, "", fmt.Errorf("iscd: dev release key: %w", err)
	}
	if b, err := os.ReadFile(path); err == nil {
		k, err := release.ParsePrivateKey(string(b))
		if err != nil {
			return k, "", fmt.Errorf("iscd: dev release key %s: %w", path, err)
		}
		return k, path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return release.PrivateKey{}, "", fmt.Errorf("iscd: dev release key: %w", err)
	}
	k, err := release.GenerateKey()
	if err != nil {
		return k, "", err
	}
	if err := atomicfile.Write(path, []byte(k.Marshal()+"\n"), 0o600); err != nil {
		return k, "", fmt.Errorf("iscd: write the dev release key: %w", err)
	}
	s.log.Warn("dev mode made a release key and keeps it in its data directory; a vendor keeps its release key offline, never beside iscd",
		"file", path, "key", k.Public().String())
	return k, path, nil
}
