// Package s3store keeps chunks in an S3-compatible object store (Amazon S3,
// MinIO, Ceph RGW, OBS, versitygw, ...): a chunkstore.Store that several iscd
// replicas can share.
//
// # Layout
//
// Each chunk is one object, named
//
//	PREFIX ORG/II/ID.TTTTTTTTTTTTTTTT
//
// where II is the first two hex digits of the id and T… is the chunk's time
// (Unix nanoseconds, 16 hex digits, from the clock of the iscd that wrote
// it). The object holds the encoded chunk. One object per chunk, not chunks
// packed into larger objects: see docs/deploy.md for the measurements and
// the reasons.
//
// # Time and garbage collection without locks
//
// An object's content and name never change, so a chunk's time lives in its
// name. Has refreshes the time by copying the object, on the server, to a
// name with the new time, then deleting the older names; Put always writes
// a new object. A chunk may so have several objects for a while; its time
// is the newest, and List reports it once.
//
// This is what keeps Delete safe against a concurrent Has or Put on another
// replica, with no lock: Delete lists the chunk's objects and removes exactly
// those it listed, and only if all are older than its cut-off. An object
// made by a refresh after that listing is not among them and survives; a
// refresh whose source Delete removed first fails to copy it, and the chunk
// is then reported missing (Has) or uploaded again (Put). Either way a Has
// that answered true leaves an object the next GC sees as recent.
//
// To spare a copy per question, a chunk whose time is younger than Refresh
// is not refreshed: its time is then up to Refresh old after a Has. GC's
// grace period must be much longer than Refresh (iscd's is 24 hours).
//
// # What each replica remembers
//
// A Store remembers, for the chunks it recently put or saw, the object's
// name and time. A chunk it saw with a time younger than Refresh is present
// without asking: no GC deletes a chunk that young (its cut-off is a grace
// period back), and a refresh on another replica only adds a newer object.
// So the Has calls of a commit that follows its upload cost no request, and
// a Get of a remembered chunk is one GET instead of a LIST and a GET.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// DefaultRefresh is the default of Config.Refresh.
const DefaultRefresh = time.Hour

// maxAttempts bounds the retries of an operation that finds the objects it
// listed gone (deleted or refreshed by another replica meanwhile).
const maxAttempts = 4

// Store is a chunkstore.Store in a bucket of an S3-compatible object store.
// It is safe for concurrent use, also by several processes on one bucket and
// prefix.
type Store struct {
	cfg    Config
	client *minio.Client
	now    func() time.Time
	seen   seen
}

// seenMax bounds what a Store remembers (about 200 bytes a chunk).
const seenMax = 1 << 16

// seen remembers the newest object of chunks: see the package comment.
type seen struct {
	mu sync.Mutex
	m  map[seenKey]object
}

type seenKey struct {
	org string
	id  chunkstore.ID
}

func (c *seen) get(org string, id chunkstore.ID) (object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.m[seenKey{org, id}]
	return o, ok
}

func (c *seen) put(org string, id chunkstore.ID, o object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= seenMax {
		c.m = make(map[seenKey]object) // crude, but bounded
	}
	if old, ok := c.m[seenKey{org, id}]; !ok || o.t >= old.t {
		c.m[seenKey{org, id}] = o
	}
}

func (c *seen) forget(org string, id chunkstore.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, seenKey{org, id})
}

// fresh reports whether a chunk seen with time t needs no refresh now.
func (s *Store) fresh(t int64) bool {
	return s.now().Sub(time.Unix(0, t)) < s.cfg.Refresh
}

var _ chunkstore.Store = (*Store)(nil)

// New connects to the object store and checks that the bucket exists.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	lookup := minio.BucketLookupPath
	if cfg.VirtualHost {
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		Transport:    tr,
		BucketLookup: lookup,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: %s: %w", cfg, err)
	}
	s := &Store{cfg: cfg, client: client, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.Refresh == 0 {
		s.cfg.Refresh = DefaultRefresh
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3store: %s: %w", cfg, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3store: %s: the bucket does not exist", cfg)
	}
	return s, nil
}

// String describes the store without its credentials.
func (s *Store) String() string { return s.cfg.String() }

// object is one stored object of a chunk.
type object struct {
	key string
	t   int64 // Unix nanoseconds
}

func (s *Store) chunkPrefix(org string, id chunkstore.ID) string {
	h := id.String()
	return s.cfg.Prefix + org + "/" + h[:2] + "/" + h + "."
}

func (s *Store) key(org string, id chunkstore.ID, t time.Time) string {
	return fmt.Sprintf("%s%016x", s.chunkPrefix(org, id), uint64(t.UnixNano()))
}

// parseName parses "ID.T" (the part of a key after ORG/II/).
func parseName(name string) (chunkstore.ID, int64, bool) {
	h, ts, ok := strings.Cut(name, ".")
	if !ok || len(ts) != 16 {
		return chunkstore.ID{}, 0, false
	}
	id, err := chunkstore.ParseID(h)
	if err != nil {
		return chunkstore.ID{}, 0, false
	}
	t, err := strconv.ParseUint(ts, 16, 64)
	if err != nil {
		return chunkstore.ID{}, 0, false
	}
	return id, int64(t), true
}

// objects lists the objects of one chunk; newest is the index of the newest,
// -1 if there are none.
func (s *Store) objects(ctx context.Context, org string, id chunkstore.ID) (objs []object, newest int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := s.chunkPrefix(org, id)
	newest = -1
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if o.Err != nil {
			return nil, -1, o.Err
		}
		cid, t, ok := parseName(strings.TrimPrefix(o.Key, p[:len(p)-len(id.String())-1]))
		if !ok || cid != id {
			continue // not ours
		}
		objs = append(objs, object{o.Key, t})
		if newest < 0 || t > objs[newest].t {
			newest = len(objs) - 1
		}
	}
	return objs, newest, nil
}

// refresh makes sure the chunk is stored with a time no older than Refresh
// and reports whether it is stored at all.
func (s *Store) refresh(ctx context.Context, org string, id chunkstore.ID) (bool, error) {
	if o, ok := s.seen.get(org, id); ok && s.fresh(o.t) {
		return true, nil
	}
	for range maxAttempts {
		objs, newest, err := s.objects(ctx, org, id)
		if err != nil || newest < 0 {
			return false, err
		}
		if s.fresh(objs[newest].t) {
			s.seen.put(org, id, objs[newest])
			return true, nil
		}
		now := s.now()
		dst := s.key(org, id, now)
		_, err = s.client.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: dst},
			minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: objs[newest].key})
		if isNotFound(err) {
			continue // deleted or refreshed meanwhile: look again
		}
		if err != nil {
			return false, err
		}
		s.seen.put(org, id, object{dst, now.UnixNano()})
		// The new object holds the chunk; the ones listed are redundant. A
		// failure here leaves an extra object, which the next refresh or
		// GC removes.
		for _, o := range objs {
			if o.key != dst {
				s.client.RemoveObject(ctx, s.cfg.Bucket, o.key, minio.RemoveObjectOptions{})
			}
		}
		return true, nil
	}
	return false, errors.New("the chunk's objects kept changing while it was refreshed")
}

// Has implements chunkstore.Store.
func (s *Store) Has(ctx context.Context, org string, id chunkstore.ID) (bool, error) {
	if err := check(ctx, org); err != nil {
		return false, fmt.Errorf("s3store: has %s: %w", id, err)
	}
	ok, err := s.refresh(ctx, org, id)
	if err != nil {
		return false, s.wrap("has", org, id, err)
	}
	return ok, nil
}

// Put implements chunkstore.Store. It returns an error matching
// chunkstore.ErrInvalidOrg for an organisation name chunkstore.CheckOrg
// refuses.
//
// Put is one request: it does not first look for the chunk (clients put only
// what Has said is missing), so putting a chunk already stored uploads it
// again under the current time, which is a refresh; the next refresh or GC
// removes the older object.
func (s *Store) Put(ctx context.Context, org string, id chunkstore.ID, encoded []byte) error {
	if err := check(ctx, org); err != nil {
		return fmt.Errorf("s3store: put %s: %w", id, err)
	}
	if err := chunkstore.Verify(org, id, encoded); err != nil {
		return fmt.Errorf("s3store: put %s/%s: %w", org, id, err)
	}
	// One PUT request: the object appears whole or not at all.
	now := s.now()
	key := s.key(org, id, now)
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(encoded), int64(len(encoded)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return s.wrap("put", org, id, err)
	}
	s.seen.put(org, id, object{key, now.UnixNano()})
	return nil
}

// Get implements chunkstore.Store.
func (s *Store) Get(ctx context.Context, org string, id chunkstore.ID) ([]byte, error) {
	if err := check(ctx, org); err != nil {
		return nil, fmt.Errorf("s3store: get %s: %w", id, err)
	}
	if o, ok := s.seen.get(org, id); ok {
		b, err := s.read(ctx, o.key)
		if err == nil {
			return b, nil
		}
		if !isNotFound(err) {
			return nil, s.wrap("get", org, id, err)
		}
		s.seen.forget(org, id) // refreshed or deleted elsewhere: look
	}
	for range maxAttempts {
		objs, newest, err := s.objects(ctx, org, id)
		if err != nil {
			return nil, s.wrap("get", org, id, err)
		}
		if newest < 0 {
			return nil, fmt.Errorf("s3store: get %s/%s: %w", org, id, chunkstore.ErrNotFound)
		}
		b, err := s.read(ctx, objs[newest].key)
		if isNotFound(err) {
			continue // refreshed meanwhile
		}
		if err != nil {
			return nil, s.wrap("get", org, id, err)
		}
		s.seen.put(org, id, objs[newest])
		return b, nil
	}
	return nil, fmt.Errorf("s3store: get %s/%s: the chunk's objects kept changing", org, id)
}

// read returns an object of at most MaxEncodedSize bytes.
func (s *Store) read(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, chunkstore.MaxEncodedSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > chunkstore.MaxEncodedSize {
		return nil, fmt.Errorf("object %s is larger than a chunk can be", key)
	}
	return b, nil
}

// List implements chunkstore.Store. A chunk with several objects (see the
// package comment) is reported once, with the newest time.
func (s *Store) List(ctx context.Context, org string, fn func(id chunkstore.ID, t time.Time) error) error {
	if err := check(ctx, org); err != nil {
		return fmt.Errorf("s3store: list: %w", err)
	}
	if err := s.list(ctx, org, fn); err != nil {
		return fmt.Errorf("s3store: list %s: %w", org, err)
	}
	return nil
}

func (s *Store) list(ctx context.Context, org string, fn func(id chunkstore.ID, t time.Time) error) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	top := s.cfg.Prefix + org + "/"
	var (
		cur   chunkstore.ID
		curT  int64
		valid bool
	)
	// Keys come in lexical order, so the objects of one chunk are adjacent.
	for o := range s.client.ListObjectsIter(lctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: top, Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		sub, name, ok := strings.Cut(strings.TrimPrefix(o.Key, top), "/")
		if !ok || len(sub) != 2 {
			continue // not ours
		}
		id, t, ok := parseName(name)
		if !ok || id.String()[:2] != sub {
			continue
		}
		if valid && id == cur {
			curT = max(curT, t)
			continue
		}
		if valid {
			if err := fn(cur, time.Unix(0, curT)); err != nil {
				return err
			}
		}
		cur, curT, valid = id, t, true
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if valid {
		return fn(cur, time.Unix(0, curT))
	}
	return ctx.Err()
}

// Delete implements chunkstore.Store. It removes the chunk's objects that it
// lists, if all are older than before; an object that a refresh on another
// replica makes meanwhile is not listed and survives (see the package
// comment), so a true result means the chunk was due, not always that it is
// gone.
//
// before must be at least Refresh in the past (GC's grace is): a chunk
// younger than Refresh is one that other replicas, and a Has running at the
// same moment in this one, may remember as present without asking.
func (s *Store) Delete(ctx context.Context, org string, id chunkstore.ID, before time.Time) (bool, error) {
	if err := check(ctx, org); err != nil {
		return false, fmt.Errorf("s3store: delete %s: %w", id, err)
	}
	objs, newest, err := s.objects(ctx, org, id)
	if err != nil {
		return false, s.wrap("delete", org, id, err)
	}
	if newest < 0 || !time.Unix(0, objs[newest].t).Before(before) {
		return false, nil
	}
	s.seen.forget(org, id)
	defer s.seen.forget(org, id)
	for _, o := range objs {
		if err := s.client.RemoveObject(ctx, s.cfg.Bucket, o.key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return false, s.wrap("delete", org, id, err)
		}
	}
	return true, nil
}

func check(ctx context.Context, org string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return chunkstore.CheckOrg(org)
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return true
	}
	return false
}

// noSpace lists the error codes with which object stores say they are full
// or over quota.
var noSpace = map[string]bool{
	"XMinioStorageFull":              true,
	"XMinioAdminBucketQuotaExceeded": true,
	"StorageFull":                    true,
	"QuotaExceeded":                  true,
	"InsufficientStorage":            true,
}

// wrap gives an error of an object store operation its context; a full
// store's error matches chunkstore.ErrNoSpace.
func (s *Store) wrap(op, org string, id chunkstore.ID, err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	if noSpace[r.Code] || r.StatusCode == http.StatusInsufficientStorage {
		return fmt.Errorf("s3store: %s %s/%s: %w: %w", op, org, id, chunkstore.ErrNoSpace, err)
	}
	return fmt.Errorf("s3store: %s %s/%s: %s: %w", op, org, id, s.cfg.Endpoint, err)
}
