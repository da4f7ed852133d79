package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// The live parts are server-sent events: the page's script opens
// /console/live/..., and each time what the part shows changes the server
// sends it rendered again (an "update" event whose data is HTML, escaped
// by html/template). The server looks again every Config.LiveEvery.

// liveSeats streams the seats table's rows.
func (s *Service) liveSeats(w http.ResponseWriter, r *http.Request) {
	s.live(w, r, Path+"seats", func(ctx context.Context, v *who, p *page) (string, bool, error) {
		seats, err := s.seats(ctx, v)
		if err != nil {
			return "", true, err
		}
		names, err := s.holders(ctx, v, seats)
		if err != nil {
			return "", true, err
		}
		html, err := rowsHTML(p, s.seatTable(v, p, seats, names, ""))
		return html, false, err
	})
}

// liveJob streams a job's solver output until the job ends.
func (s *Service) liveJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.live(w, r, Path+"jobs/"+esc(id), func(ctx context.Context, v *who, _ *page) (string, bool, error) {
		j, err := s.job(ctx, v, id)
		if err != nil {
			return "", true, err
		}
		var logs struct{ Lines []string }
		if err := s.call(ctx, v, "GET", "/jobs/"+esc(id)+"/logs", nil, &logs); err != nil {
			return "", true, err
		}
		var b strings.Builder
		for _, l := range logs.Lines {
			b.WriteString(template.HTMLEscapeString(l))
			b.WriteByte('\n')
		}
		return b.String(), j.Done(), nil
	})
}

// liveJobRow streams a job's row (state, progress) until the job ends.
func (s *Service) liveJobRow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.live(w, r, Path+"jobs/"+esc(id), func(ctx context.Context, v *who, p *page) (string, bool, error) {
		j, err := s.job(ctx, v, id)
		if err != nil {
			return "", true, err
		}
		t, err := s.jobTable(ctx, v, p, []adminapi.Job{j})
		if err != nil {
			return "", true, err
		}
		html, err := rowsHTML(p, t)
		return html, j.Done(), err
	})
}

// live serves one live part of the page here: render says what it shows
// now, and whether it will not change any more.
func (s *Service) live(w http.ResponseWriter, r *http.Request, here string, render func(context.Context, *who, *page) (string, bool, error)) {
	v := s.caller(r)
	if v == nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	if !s.holdStream(v.session) {
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("more than %d live parts open for this sign-in", maxStreams), http.StatusTooManyRequests)
		return
	}
	defer s.dropStream(v.session)
	p := s.newPage(w, r, v, "seats")
	p.Here = here // where the buttons in live rows come back to
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	tick := time.NewTicker(s.cfg.LiveEvery)
	defer tick.Stop()
	last, wrote := "", time.Now()
	for {
		// The server's write timeout would end a part that has nothing
		// new for two minutes: each look moves the deadline on.
		rc.SetWriteDeadline(time.Now().Add(s.cfg.LiveEvery + 30*time.Second))
		// The session may end (signed out, token revoked) while it watches.
		if s.caller(r) == nil {
			fmt.Fprint(w, "event: end\ndata: signed out\n\n")
			rc.Flush()
			return
		}
		html, done, err := render(ctx, v, p)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprint(w, "event: end\ndata: refused\n\n")
				rc.Flush()
			}
			return
		}
		if html == last && !done && time.Since(wrote) >= s.cfg.KeepAlive {
			// A comment now and then: proxies keep a quiet stream open,
			// and a browser that went away is noticed.
			wrote = time.Now()
			fmt.Fprint(w, ": still here\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if html != last || done {
			last, wrote = html, time.Now()
			// Each line of the data is a data: field; EventSource joins them with \n.
			fmt.Fprint(w, "event: update\n")
			for _, line := range strings.Split(html, "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
			if done {
				fmt.Fprint(w, "event: end\ndata: done\n\n")
			}
			if err := rc.Flush(); err != nil || done {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// holdStream counts a live part of session open, unless it has maxStreams.
func (s *Service) holdStream(session string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[session] >= maxStreams {
		return false
	}
	s.streams[session]++
	return true
}

func (s *Service) dropStream(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[session]--; s.streams[session] <= 0 {
		delete(s.streams, session)
	}
}
