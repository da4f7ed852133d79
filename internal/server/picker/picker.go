// Package picker serves the file pickers of iscd: plain HTML pages, opened
// through one-time links bound to a session, where an engineer browses the
// organisation's cloud files and picks one to open, or a folder and a name
// to save to. The pick goes to the session that asked, as an event.
//
// A link's token is its capability: 130 random bits in the URL path, kept
// only as a SHA-256 hash, in memory, for TTL (15 minutes). Browsing is
// repeatable; the pick (or Cancel) uses the link up. Forms also carry a
// per-link nonce and are refused from another origin.
package picker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/page"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Path is the prefix the pages are served under: Path + token.
const Path = "/picker/"

// Defaults and bounds.
const (
	DefaultTTL = 15 * time.Minute
	// keepDead is how long a used or expired link is remembered, so that
	// it shows "already used" or "expired" rather than "unknown".
	keepDead = time.Hour
	// maxLinks bounds the links held in memory (live and dead).
	maxLinks = 10000
	// maxLiveLinksPerSession bounds the live links of one session.
	maxLiveLinksPerSession = 16
)

// Config tunes the service.
type Config struct {
	TTL time.Duration    // how long a link lives; 0: DefaultTTL
	Now func() time.Time // the clock; nil: time.Now (tests move it)
}

// Files is what the pages read of the store.
type Files interface {
	File(ctx context.Context, orgID, path string) (store.FileEntry, error)
	ListFiles(ctx context.Context, orgID, dir string) ([]store.FileEntry, []store.Folder, error)
}

// Gate says whether an organisation may use cloud files for a product:
// nil, or the error its client gets (licensing.Service: the licence
// gates). A picker shows the organisation's files, so it asks too.
type Gate interface {
	RequireForFiles(ctx context.Context, orgID, productID string) error
}

// Publisher pushes an event to one session (session.Hub).
type Publisher interface {
	Publish(ctx context.Context, sessionID string, ev wire.Event) (uint64, error)
}

// Service mints picker links and serves their pages.
type Service struct {
	files Files
	pub   Publisher
	gate  Gate
	log   *slog.Logger
	ttl   time.Duration
	now   func() time.Time
	mux   *http.ServeMux

	mu    sync.Mutex
	links map[[sha256.Size]byte]*link
}

// state of a link.
type state int

const (
	live   state = iota
	used         // picked or cancelled
	closed       // the session that asked has ended
)

type link struct {
	id        string // pickerId: names the link in logs and events, grants nothing
	caller    session.Caller
	requestID uint64
	mode      string
	localName string
	assembly  bool
	nonce     string
	expires   time.Time
	state     state
}

// New returns the service; Register connects it to the hub.
func New(files Files, pub Publisher, gate Gate, log *slog.Logger, cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{files: files, pub: pub, gate: gate, log: log, ttl: cfg.TTL, now: cfg.Now, links: map[[sha256.Size]byte]*link{}}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+Path+"{token}", s.page)
	s.mux.HandleFunc("POST "+Path+"{token}", s.pick)
	return s
}

// Register installs the picker.open request handler and forgets the links
// of sessions as they end.
func (s *Service) Register(hub *session.Hub) {
	session.Handle(hub, wire.OpPickerOpen, s.open)
	hub.OnEnd(s.sessionEnded)
}

func hashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// open mints a link for the calling session.
func (s *Service) open(ctx context.Context, c session.Caller, req wire.PickerOpen) (any, error) {
	if req.Mode != wire.PickerModeOpen && req.Mode != wire.PickerModeSave {
		return nil, wire.Errorf(wire.CodeBadRequest, "mode %q: want %q or %q", req.Mode, wire.PickerModeOpen, wire.PickerModeSave)
	}
	if len(req.LocalName) > cloudpath.MaxSegment || strings.ContainsAny(req.LocalName, "/\\") {
		return nil, wire.Errorf(wire.CodeBadRequest, "localName must be one name of at most %d bytes", cloudpath.MaxSegment)
	}
	if err := s.gate.RequireForFiles(ctx, c.OrgID, c.ProductID); err != nil {
		return nil, err
	}
	token := rand.Text() // 26 base32 characters: 130 random bits
	l := &link{
		id: rand.Text()[:12], caller: c, requestID: req.RequestID, mode: req.Mode,
		localName: req.LocalName, assembly: req.Assembly, nonce: rand.Text(),
		expires: s.now().Add(s.ttl),
	}
	s.mu.Lock()
	s.sweep()
	n := 0
	for _, o := range s.links {
		if o.caller.Session == c.Session && o.state == live && s.now().Before(o.expires) {
			n++
		}
	}
	if n >= maxLiveLinksPerSession || len(s.links) >= maxLinks {
		s.mu.Unlock()
		return nil, wire.Errorf(wire.CodeUnavailable, "too many pickers open; pick or cancel one first")
	}
	s.links[hashToken(token)] = l
	s.mu.Unlock()
	s.log.Info("picker opened", "picker", l.id, "mode", l.mode, "session", c.Session, "user", c.UserID)
	return wire.PickerOpened{URL: Path + token, PickerID: l.id, Expires: l.expires.UTC(), TTLSeconds: int64(s.ttl / time.Second)}, nil
}

// sweep forgets links dead for longer than keepDead; mu is held.
func (s *Service) sweep() {
	cutoff := s.now().Add(-keepDead)
	for h, l := range s.links {
		if l.expires.Before(cutoff) {
			delete(s.links, h)
		}
	}
}

func (s *Service) sessionEnded(_ context.Context, sessionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.links {
		if l.caller.Session == sessionID && l.state == live {
			l.state = closed
		}
	}
}

// ServeHTTP serves the pages under Path.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// The token is in the URL: it goes to no other origin (and to this one
	// only so that the browser sends Origin with the forms).
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// lookup finds the link of a token. The map is keyed by the token's
// SHA-256, so how long a lookup takes says nothing about a token; the
// token itself is never stored.
func (s *Service) lookup(w http.ResponseWriter, r *http.Request) (*link, bool) {
	token := r.PathValue("token")
	s.mu.Lock()
	l := s.links[hashToken(token)]
	var st state
	var expired bool
	if l != nil {
		st, expired = l.state, !s.now().Before(l.expires)
	}
	s.mu.Unlock()
	switch {
	case l == nil:
		s.message(w, http.StatusNotFound, "Link not found", "This picker link is not known. It may have expired long ago, or the service has restarted since. Ask again from your program.")
	case st == used:
		s.message(w, http.StatusGone, "Link already used", "A file has already been picked with this link (or it was cancelled). Each link serves one pick: ask again from your program.")
	case st == closed:
		s.message(w, http.StatusGone, "Program closed", "The program that opened this picker is no longer connected. Ask again from your program.")
	case expired:
		s.message(w, http.StatusGone, "Link expired", "This picker link has expired. Ask again from your program.")
	default:
		// The gate is asked at every page and pick, not only when the
		// link was made: a licence frozen since closes the pages at once.
		if err := s.gate.RequireForFiles(r.Context(), l.caller.OrgID, l.caller.ProductID); err != nil {
			s.log.Info("picker refused by the licence gate", "picker", l.id, "err", err)
			s.message(w, http.StatusForbidden, "Licence required", "Your organisation's licence does not allow cloud files now. Ask your administrator.")
			return nil, false
		}
		return l, true
	}
	return nil, false
}

// page shows a folder.
func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	l, ok := s.lookup(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	dir := q.Get("dir")
	if dir == "" {
		dir = "/"
	}
	name := q.Get("name")
	if name == "" {
		name = l.localName
	}
	s.listing(w, r, l, http.StatusOK, dir, name, q.Get("after"), "")
}

// pageSize is how many folders and files a picker page shows.
const pageSize = wire.DefaultPageLimit

// listing renders one page of the folder dir for link l (the entries
// after the cursor after, as files.list pages them), with an error
// message if any.
func (s *Service) listing(w http.ResponseWriter, r *http.Request, l *link, status int, dir, name, after, problem string) {
	if dir != "/" {
		if _, err := cloudpath.Check(dir); err != nil {
			s.message(w, http.StatusBadRequest, "Not a folder", "The folder in this address is not valid.")
			return
		}
	}
	files, folders, err := s.files.ListFiles(r.Context(), l.caller.OrgID, dir)
	if err != nil {
		s.log.Error("picker listing", "picker", l.id, "dir", dir, "err", err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "The folder could not be read. Try again in a moment.")
		return
	}
	self := Path + r.PathValue("token")
	d := listingData{
		Title: "Open a file from the cloud", Open: l.mode == wire.PickerModeOpen, Action: self,
		Nonce: l.nonce, Dir: dir, Name: name, Error: problem, Assembly: l.assembly,
		Expires: l.expires.UTC().Format("15:04 UTC"),
	}
	if !d.Open {
		d.Title = "Save to the cloud"
	}
	at := func(dir, name string) string {
		v := url.Values{"dir": {dir}}
		if name != "" {
			v.Set("name", name)
		}
		return self + "?" + v.Encode()
	}
	pageAt := func(cursor string) string {
		v := url.Values{"dir": {dir}, "after": {cursor}}
		if name != "" {
			v.Set("name", name)
		}
		return self + "?" + v.Encode()
	}
	d.Crumbs = append(d.Crumbs, crumb{Name: "Cloud", Href: at("/", name)})
	if dir != "/" {
		segs := strings.Split(dir[1:], "/")
		for i, seg := range segs {
			d.Crumbs = append(d.Crumbs, crumb{Name: seg, Href: at("/"+strings.Join(segs[:i+1], "/"), name)})
		}
	}
	d.Crumbs[len(d.Crumbs)-1].Current = true
	if dir != "/" {
		d.Up = at(cloudpath.Dir(dir), name)
	}
	// Folders, then files, by path; one page of them (files.list's
	// order and cursors).
	type entry struct {
		key  string
		row  any // folderRow or fileRow
		file bool
	}
	entries := make([]entry, 0, len(folders)+len(files))
	for _, f := range folders {
		entries = append(entries, entry{key: store.FolderKey(f.Path), row: folderRow{Name: cloudpath.Base(f.Path), Href: at(f.Path, name)}})
	}
	for _, f := range files {
		row := fileRow{
			Name: cloudpath.Base(f.Path), Path: f.Path, Assembly: f.Assembly, Version: f.Head,
			Size: humanSize(f.Size), Updated: f.Updated.UTC().Format("2006-01-02 15:04 UTC"), UpdatedBy: f.UpdatedBy,
			State: "Checked in",
		}
		if f.Lock != nil {
			row.State = "Checked out by " + f.Lock.UserID
			if f.Lock.UserID == l.caller.UserID {
				row.State = "Checked out by you"
			} else {
				row.LockedByOther = true
			}
		}
		row.UseName = at(dir, row.Name)
		entries = append(entries, entry{key: store.FileKey(f.Path), row: row, file: true})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	skipped := 0
	if after != "" {
		skipped = sort.Search(len(entries), func(i int) bool { return entries[i].key > after })
	}
	shown, next, err := page.Cut(entries, func(e entry) string { return e.key }, wire.Page{Cursor: after, Limit: pageSize})
	if err != nil {
		s.message(w, http.StatusBadRequest, "Not a page", "The page in this address is not valid.")
		return
	}
	for _, e := range shown {
		if e.file {
			d.Files = append(d.Files, e.row.(fileRow))
		} else {
			d.Folders = append(d.Folders, e.row.(folderRow))
		}
	}
	if len(entries) > len(shown) {
		d.Range = fmt.Sprintf("Entries %d to %d of %d.", skipped+1, skipped+len(shown), len(entries))
		if next != "" {
			d.More, d.MoreCount = pageAt(next), min(pageSize, len(entries)-skipped-len(shown))
		}
		if after != "" {
			d.First = at(dir, name)
		}
	}
	render(w, status, listingPage, d)
}

// pick takes the form of a page: open a file, save to a folder, or cancel.
func (s *Service) pick(w http.ResponseWriter, r *http.Request) {
	l, ok := s.lookup(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, "Bad form", "The form could not be read.")
		return
	}
	if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("nonce")), []byte(l.nonce)) != 1 {
		s.log.Warn("picker form refused", "picker", l.id, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		s.message(w, http.StatusForbidden, "Form refused", "This form did not come from this picker page. Open the link from your program again.")
		return
	}
	params := map[string]string{"pickerId": l.id}
	var done string
	dir := r.PostForm.Get("dir")
	if dir == "" {
		dir = "/"
	}
	switch action := r.PostForm.Get("action"); {
	case action == "cancel":
		params["status"] = wire.PickerCancelled
		done = "Cancelled. Nothing was opened or saved."
	case l.mode == wire.PickerModeOpen && (action == "open" || action == "checkout"):
		p, err := cloudpath.Check(r.PostForm.Get("path"))
		if err == nil {
			_, err = s.files.File(r.Context(), l.caller.OrgID, p)
		}
		if err != nil {
			s.listing(w, r, l, http.StatusUnprocessableEntity, cloudpath.Dir(r.PostForm.Get("path")), "", "", "That file is not there any more. Pick another one.")
			return
		}
		params["status"], params["cloudPath"], params["openType"] = wire.PickerPicked, p, "OpenOnly"
		if action == "checkout" {
			params["openType"] = "OpenAndCheckout"
		}
		done = cloudpath.Base(p) + " is opening in your program."
	case l.mode == wire.PickerModeSave && action == "save":
		name := strings.TrimSpace(r.PostForm.Get("name"))
		if dir != "/" {
			if _, err := cloudpath.Check(dir); err != nil {
				dir = "/"
			}
		}
		p, err := cloudpath.Check(strings.TrimSuffix(dir, "/") + "/" + name)
		if name == "" || err != nil {
			why := "Type a name: no \"..\", backslash or control characters; use / between folder names."
			if ne, ok := errors.AsType[*manifest.NameError](err); ok {
				// Say which rule: "aux.prt" is a Windows device name.
				why = fmt.Sprintf("%q %s: every computer must be able to open it. Type another name.", ne.Name, ne.Reason)
			}
			s.listing(w, r, l, http.StatusUnprocessableEntity, dir, name, "", why)
			return
		}
		params["status"], params["cloudPath"] = wire.PickerPicked, p
		done = "Your program is saving to " + p + "."
	default:
		s.message(w, http.StatusBadRequest, "Bad form", "This form asks for something this picker does not do.")
		return
	}

	s.mu.Lock()
	if l.state != live || !s.now().Before(l.expires) {
		s.mu.Unlock()
		s.lookup(w, r) // says why
		return
	}
	l.state = used
	s.mu.Unlock()

	ev := wire.Event{Kind: wire.KindPicker, RequestID: l.requestID, Operate: wire.OperatePickerResult, Params: params}
	if _, err := s.pub.Publish(r.Context(), l.caller.Session, ev); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.message(w, http.StatusGone, "Program closed", "The program that opened this picker is no longer connected. Ask again from your program.")
			return
		}
		s.log.Error("picker publish", "picker", l.id, "err", err)
		s.message(w, http.StatusInternalServerError, "Something went wrong", "The pick could not be passed to your program. Ask again from your program.")
		return
	}
	s.log.Info("picker used", "picker", l.id, "status", params["status"], "path", params["cloudPath"], "session", l.caller.Session)
	s.message(w, http.StatusOK, "Done", done+" You can close this tab.")
}

// sameOrigin refuses a form posted from another origin. Browsers send
// Origin with every POST; a request without one is not from a browser
// page of another site, and still needs the nonce.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// message renders a page with a heading and one paragraph.
func (s *Service) message(w http.ResponseWriter, status int, title, text string) {
	render(w, status, messagePage, messageData{Title: title, Text: text})
}
