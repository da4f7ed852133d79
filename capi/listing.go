package main

/*
#include "capi.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// pageTimeout bounds a page call, including waiting for a reconnection.
const pageTimeout = 60 * time.Second

// errRefused: the service answered the call with an errorCode
// (ISCSDK_E_REFUSED).
var errRefused = errors.New("refused by the service")

// refused names the service's errorCode in the message of a refusal.
func refused(err error) error {
	if we, ok := errors.AsType[*wire.Error](err); ok {
		return fmt.Errorf("%w (%s): %s", errRefused, we.Code, we.Message)
	}
	return err
}

// The JSON forms of the page calls' answers, as the header documents them.
type (
	fileJSON struct {
		Path       string    `json:"path"`
		Assembly   bool      `json:"assembly"`
		Version    int       `json:"version"`
		Size       int64     `json:"size"`
		Hash       string    `json:"hash"`
		Updated    time.Time `json:"updated"`
		UpdatedBy  string    `json:"updatedBy"`
		LockedBy   string    `json:"lockedBy,omitempty"`
		LockedByMe bool      `json:"lockedByMe,omitempty"`
	}
	listingJSON struct {
		Dir     string     `json:"dir"`
		Folders []string   `json:"folders"`
		Files   []fileJSON `json:"files"`
		Next    string     `json:"next"`
	}
	versionJSON struct {
		Number int       `json:"number"`
		Author string    `json:"author"`
		Time   time.Time `json:"time"`
		Size   int64     `json:"size"`
		Hash   string    `json:"hash"`
		Files  int       `json:"files"`
	}
	historyJSON struct {
		Versions []versionJSON `json:"versions"`
		Next     string        `json:"next"`
	}
	jobJSON struct {
		ID          string    `json:"id"`
		State       string    `json:"state"`
		Solver      string    `json:"solver"`
		Main        string    `json:"main"`
		Attempt     int       `json:"attempt"`
		Worker      string    `json:"worker,omitempty"`
		Created     time.Time `json:"created"`
		Finished    time.Time `json:"finished,omitzero"`
		ExitCode    int       `json:"exitCode"`
		ErrorCode   string    `json:"errorCode,omitempty"`
		Error       string    `json:"error,omitempty"`
		WallSeconds float64   `json:"wallSeconds,omitempty"`
		CPUSeconds  float64   `json:"cpuSeconds,omitempty"`
	}
	jobsJSON struct {
		Jobs []jobJSON `json:"jobs"`
		Next string    `json:"next"`
	}
)

// page runs one page call of client id and stores its answer's JSON in
// *out; fn is the public name for messages.
func page(fn string, id C.uintptr_t, out **C.char, errbuf *C.char, a *args, call func(context.Context, *sdk.Client) (any, error)) C.iscsdk_status {
	c := a.client(id)
	a.outString("out_json", out)
	if a.err != nil {
		return reply(errbuf, named(fn, a.err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), pageTimeout)
	defer cancel()
	v, err := call(ctx, c.Client())
	if err != nil {
		return reply(errbuf, named(fn, refused(err)))
	}
	// Names as they are: no \u0026 for '&', which a C host would have to
	// decode before passing a cursor back.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return reply(errbuf, named(fn, fmt.Errorf("%w: %v", errInternal, err)))
	}
	*out = C.CString(strings.TrimSuffix(b.String(), "\n"))
	return reply(errbuf, nil)
}

//export isc_go_list_cloud_folder
func isc_go_list_cloud_folder(id C.uintptr_t, dir, cursor *C.char, limit C.uint32_t, out **C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	d := a.str("dir", dir, true)
	cur := a.str("cursor", cursor, false)
	return page("iscsdk_list_cloud_folder", id, out, errbuf, &a, func(ctx context.Context, c *sdk.Client) (any, error) {
		l, err := c.ListPage(ctx, d, cur, pageLimit(limit))
		if err != nil {
			return nil, err
		}
		out := listingJSON{Dir: l.Dir, Folders: l.Folders, Files: make([]fileJSON, len(l.Files)), Next: l.Next}
		if out.Folders == nil {
			out.Folders = []string{}
		}
		for i, f := range l.Files {
			out.Files[i] = fileJSON(f)
		}
		return out, nil
	})
}

//export isc_go_cloud_file_history
func isc_go_cloud_file_history(id C.uintptr_t, cloudPath, cursor *C.char, limit C.uint32_t, out **C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	p := a.str("cloud_path", cloudPath, true)
	cur := a.str("cursor", cursor, false)
	return page("iscsdk_cloud_file_history", id, out, errbuf, &a, func(ctx context.Context, c *sdk.Client) (any, error) {
		h, err := c.HistoryPage(ctx, p, cur, pageLimit(limit))
		if err != nil {
			return nil, err
		}
		out := historyJSON{Versions: make([]versionJSON, len(h.Versions)), Next: h.Next}
		for i, v := range h.Versions {
			out.Versions[i] = versionJSON(v)
		}
		return out, nil
	})
}

//export isc_go_list_jobs
func isc_go_list_jobs(id C.uintptr_t, cursor *C.char, limit C.uint32_t, out **C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	cur := a.str("cursor", cursor, false)
	return page("iscsdk_list_jobs", id, out, errbuf, &a, func(ctx context.Context, c *sdk.Client) (any, error) {
		p, err := c.Jobs(ctx, cur, pageLimit(limit))
		if err != nil {
			return nil, err
		}
		out := jobsJSON{Jobs: make([]jobJSON, len(p.Jobs)), Next: p.Next}
		for i, j := range p.Jobs {
			out.Jobs[i] = jobJSON{ID: j.ID, State: j.State, Solver: j.Solver, Main: j.Main, Attempt: j.Attempt,
				Worker: j.Worker, Created: j.Created, Finished: j.Finished, ExitCode: j.ExitCode,
				ErrorCode: j.ErrorCode, Error: j.Error, WallSeconds: j.WallSeconds, CPUSeconds: j.CPUSeconds}
		}
		return out, nil
	})
}

// pageLimit: the service clamps a limit to its maximum; a uint32 beyond
// int's range on a 32-bit host is clamped here first.
func pageLimit(l C.uint32_t) int { return int(min(uint32(l), wire.MaxPageLimit)) }
