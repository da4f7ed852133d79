package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// A Router maps a connection's requests to their handlers: ops to
// Handle's, binary frame kinds to HandleFrame's. C is who sent them: a
// session's Caller (the Hub holds the router of /v1/session), or a worker
// (the worker endpoint holds one of its own). Requests are decoded here,
// once, into each handler's type; decoding and bound errors are answered
// here, in one way.
type Router[C any] struct {
	mu     sync.Mutex
	ops    map[string]route[C]
	frames map[byte]frameRoute[C]
}

type (
	route[C any]      func(ctx context.Context, c C, body json.RawMessage) (any, error)
	frameRoute[C any] func(ctx context.Context, c C, f wire.Frame) (any, error)
)

// Registry is what Handle and HandleFrame register on: a *Router, or the
// *Hub (its router).
type Registry[C any] interface {
	router() *Router[C]
}

func (r *Router[C]) router() *Router[C] { return r }

// Bounded is a request type with limits of its own beyond the message's
// size (wire.FilesHave: how many ids). Handle checks them once the body
// is decoded; a request past them is answered with Check's *wire.Error
// (wire.CodeTooLarge for a count or a length) and its handler never runs.
type Bounded interface {
	Check() error
}

// Handle registers fn as the handler of op. The request's body is
// decoded into a Req first: no body is Req's zero value; a body that is
// not a Req is answered wire.CodeBadRequest, one past Req's bounds
// (Bounded) with Check's error, and fn does not run. fn's answer is sent
// as the result (a Binary as a binary frame); a *wire.Error it returns as
// it is, any other error as wire.CodeInternal (logged, not shown).
// Registering op again replaces its handler.
func Handle[C, Req, Resp any](on Registry[C], op string, fn func(ctx context.Context, c C, req Req) (Resp, error)) {
	r := on.router()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[string]route[C]{}
	}
	r.ops[op] = func(ctx context.Context, c C, body json.RawMessage) (any, error) {
		var req Req
		if err := decode(op, body, &req); err != nil {
			return nil, err
		}
		return fn(ctx, c, req)
	}
}

// HandleFrame registers fn as the handler of binary frames of one kind
// (wire.BinCommit, ...). The frame's JSON header is decoded into a Hdr
// first, as Handle decodes a request's body; fn gets it and the frame
// (its chunk id and payload).
func HandleFrame[C, Hdr, Resp any](on Registry[C], kind byte, fn func(ctx context.Context, c C, hdr Hdr, f wire.Frame) (Resp, error)) {
	r := on.router()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frames == nil {
		r.frames = map[byte]frameRoute[C]{}
	}
	what := fmt.Sprintf("binary frame %d's header", kind)
	r.frames[kind] = func(ctx context.Context, c C, f wire.Frame) (any, error) {
		var hdr Hdr
		if err := decode(what, f.Header, &hdr); err != nil {
			return nil, err
		}
		return fn(ctx, c, hdr, f)
	}
}

// decode is the one way a request's JSON becomes its type, and fails.
func decode(what string, body json.RawMessage, v any) error {
	if len(body) > 0 {
		if err := json.Unmarshal(body, v); err != nil {
			return wire.Errorf(wire.CodeBadRequest, "%s: %v", what, err)
		}
	}
	if b, ok := v.(Bounded); ok {
		if err := b.Check(); err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				return we
			}
			return wire.Errorf(wire.CodeBadRequest, "%s: %v", what, err)
		}
	}
	return nil
}

// Has reports whether op has a handler.
func (r *Router[C]) Has(op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op] != nil
}

// Ops lists the ops that have handlers, sorted.
func (r *Router[C]) Ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.ops))
}

// Call runs op's handler on body for c: an op without one is answered
// wire.CodeUnknownOp, and a panic in the handler fails the request, not
// the service.
func (r *Router[C]) Call(ctx context.Context, c C, op string, body json.RawMessage) (any, error) {
	r.mu.Lock()
	fn := r.ops[op]
	r.mu.Unlock()
	if fn == nil {
		return nil, wire.Errorf(wire.CodeUnknownOp, "unknown op %s", op)
	}
	return recovered(func() (any, error) { return fn(ctx, c, body) })
}

// CallFrame runs the handler of f's kind for c, as Call runs an op's.
func (r *Router[C]) CallFrame(ctx context.Context, c C, f wire.Frame) (any, error) {
	r.mu.Lock()
	fn := r.frames[f.Kind]
	r.mu.Unlock()
	if fn == nil {
		return nil, wire.Errorf(wire.CodeUnknownOp, "unknown binary frame kind %d", f.Kind)
	}
	return recovered(func() (any, error) { return fn(ctx, c, f) })
}

// HasFrame reports whether frames of kind have a handler.
func (r *Router[C]) HasFrame(kind byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames[kind] != nil
}

// recovered runs a handler; a panic in it becomes its error.
func recovered(fn func() (any, error)) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return fn()
}
