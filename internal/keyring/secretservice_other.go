//go:build !linux

package keyring

// secretService is Linux's; elsewhere there is none.
type secretService struct{}

func openSecretService() *secretService { return nil }

func (*secretService) load(string) (string, error)       { return "", ErrNotFound }
func (*secretService) save(string, string, string) error { return ErrNotFound }
func (*secretService) remove(string) error               { return nil }
