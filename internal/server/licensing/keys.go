package licensing

// The products' signing keys. Each is kept in the store sealed by envelope
// encryption (internal/envelope): its seed under a data key of its own,
// the data key wrapped by the key-encryption key (KEK) that iscd is given
// at start and the store never sees, the record's product and key id bound
// to both. A dump of the store signs nothing; an iscd without the KEK
// refuses to start (SealKeys).

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/store"
)

// ErrNoKEK: the service was given no key-encryption key.
var ErrNoKEK = errors.New("licensing: no key-encryption key: the products' signing keys cannot be opened or made (iscd serve --kek-file, $ISCD_KEK)")

// keyring opens sealed keys, remembering the ones it opened (a KMS would
// otherwise be asked at every licence).
type keyring struct {
	kek envelope.Wrapper

	mu     sync.Mutex
	opened map[string]license.SigningKey // by sealed form
}

// keyAAD names a key record: a sealed key opens only as the key it was.
func keyAAD(product, id string) []byte {
	return []byte("iscd product signing key\n" + product + "\n" + id)
}

func (r *keyring) seal(ctx context.Context, k license.SigningKey) (string, error) {
	if r.kek == nil {
		return "", ErrNoKEK
	}
	return envelope.Seal(ctx, r.kek, k.Private.Seed(), keyAAD(k.Product, k.ID))
}

func (r *keyring) open(ctx context.Context, pk store.ProductKey) (license.SigningKey, error) {
	if r.kek == nil {
		return license.SigningKey{}, ErrNoKEK
	}
	r.mu.Lock()
	k, ok := r.opened[pk.Private]
	r.mu.Unlock()
	if ok {
		return k, nil
	}
	if !envelope.Sealed(pk.Private) {
		return license.SigningKey{}, fmt.Errorf("product %s key %s is stored in clear (iscd seals it when it starts)", pk.ProductID, pk.ID)
	}
	seed, err := envelope.Open(ctx, r.kek, pk.Private, keyAAD(pk.ProductID, pk.ID))
	if err != nil {
		return license.SigningKey{}, fmt.Errorf("product %s key %s: %w", pk.ProductID, pk.ID, err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return license.SigningKey{}, fmt.Errorf("product %s key %s: a seed of %d bytes", pk.ProductID, pk.ID, len(seed))
	}
	k = license.SigningKey{Product: pk.ProductID, ID: pk.ID, Private: ed25519.NewKeyFromSeed(seed)}
	r.mu.Lock()
	if r.opened == nil {
		r.opened = map[string]license.SigningKey{}
	}
	r.opened[pk.Private] = k
	r.mu.Unlock()
	return k, nil
}

// SigningKey returns the product's current signing key, creating the
// first one on first use.
func (s *Service) SigningKey(ctx context.Context, product string) (license.SigningKey, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	keys, err := s.st.ProductKeys(ctx, product)
	if err != nil {
		return license.SigningKey{}, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !keys[i].Retired {
			return s.keys.open(ctx, keys[i])
		}
	}
	return s.newKey(ctx, product)
}

func (s *Service) newKey(ctx context.Context, product string) (license.SigningKey, error) {
	k, err := license.GenerateKey(product)
	if err != nil {
		return license.SigningKey{}, err
	}
	sealed, err := s.keys.seal(ctx, k)
	if err != nil {
		return license.SigningKey{}, err
	}
	if err := s.st.PutProductKey(ctx, store.ProductKey{ProductID: product, ID: k.ID, Private: sealed, Created: s.now()}); err != nil {
		return license.SigningKey{}, err
	}
	s.log.Info("licence signing key created", "product", product, "key", k.ID, "kek", envelope.KEK(sealed))
	return k, nil
}

// RotateKey retires the product's signing keys and makes a new one. Old
// documents still verify with the old public keys; new ones are signed by
// the new key.
func (s *Service) RotateKey(ctx context.Context, product string) (license.PublicKey, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.keys.kek == nil {
		return license.PublicKey{}, ErrNoKEK
	}
	keys, err := s.st.ProductKeys(ctx, product)
	if err != nil {
		return license.PublicKey{}, err
	}
	for _, k := range keys {
		if !k.Retired {
			k.Retired = true
			if err := s.st.PutProductKey(ctx, k); err != nil {
				return license.PublicKey{}, err
			}
		}
	}
	k, err := s.newKey(ctx, product)
	return k.Public(), err
}

// PublicKeys returns every public key of the product, oldest first: what a
// program must know to verify any document iscd signed for it.
func (s *Service) PublicKeys(ctx context.Context, product string) ([]license.PublicKey, error) {
	if _, err := s.SigningKey(ctx, product); err != nil { // make sure one exists
		return nil, err
	}
	keys, err := s.st.ProductKeys(ctx, product)
	if err != nil {
		return nil, err
	}
	out := make([]license.PublicKey, 0, len(keys))
	for _, k := range keys {
		sk, err := s.keys.open(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, sk.Public())
	}
	return out, nil
}

// KeysReport says what SealKeys did.
type KeysReport struct {
	Keys      int    // product keys in the store
	Sealed    int    // found in clear (stored by an older iscd) and sealed now
	Rewrapped int    // wrapped by an older KEK and re-wrapped by the current one
	KEK       string // the current KEK's id
}

// SealKeys makes every product key in the store sealed under the current
// KEK: keys an older iscd stored in clear are sealed (the upgrade's
// migration), keys wrapped by an older KEK are re-wrapped (a KEK
// rotation), and every key is opened once, so that an iscd started
// without its KEK, or with another one, fails here with the reason instead
// of at its first licence. iscd runs it at start and when told to re-read
// its KEK (SIGHUP); it is safe to run on several replicas at once.
func (s *Service) SealKeys(ctx context.Context) (KeysReport, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	var rep KeysReport
	if s.keys.kek == nil {
		return rep, ErrNoKEK
	}
	rep.KEK = s.keys.kek.Current()
	products, err := s.st.Products(ctx)
	if err != nil {
		return rep, err
	}
	for _, p := range products {
		keys, err := s.st.ProductKeys(ctx, p.ID)
		if err != nil {
			return rep, err
		}
		for _, k := range keys {
			rep.Keys++
			switch {
			case !envelope.Sealed(k.Private):
				clearKey, err := license.ParseSigningKey(k.Private)
				if err != nil {
					return rep, fmt.Errorf("product %s key %s (in clear): %w", k.ProductID, k.ID, err)
				}
				if clearKey.Product != k.ProductID || clearKey.ID != k.ID {
					return rep, fmt.Errorf("product %s key %s holds the key of %s/%s", k.ProductID, k.ID, clearKey.Product, clearKey.ID)
				}
				if k.Private, err = s.keys.seal(ctx, clearKey); err != nil {
					return rep, err
				}
				rep.Sealed++
			default:
				sealed, changed, err := envelope.Rewrap(ctx, s.keys.kek, k.Private, keyAAD(k.ProductID, k.ID))
				if err != nil {
					return rep, fmt.Errorf("product %s key %s: %w", k.ProductID, k.ID, err)
				}
				if !changed {
					if _, err := s.keys.open(ctx, k); err != nil {
						return rep, err
					}
					continue
				}
				k.Private = sealed
				rep.Rewrapped++
			}
			if err := s.st.PutProductKey(ctx, k); err != nil {
				return rep, err
			}
		}
	}
	if rep.Sealed+rep.Rewrapped > 0 {
		s.log.Info("licence signing keys sealed", "keys", rep.Keys, "sealed", rep.Sealed, "rewrapped", rep.Rewrapped, "kek", rep.KEK)
	}
	return rep, nil
}
