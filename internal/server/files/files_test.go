package files_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// session opens a raw session, as a client in another language would.
func session(t *testing.T) *websocket.Conn {
	srv := servertest.Start(t)
	ws, _, err := websocket.DefaultDialer.Dial(srv.Endpoint, http.Header{"Authorization": {"Bearer " + srv.APIToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: 1, Product: srv.Product}})
	ws.WriteMessage(websocket.TextMessage, b)
	ws.ReadMessage() // welcome
	return ws
}

// answer sends a binary frame and returns the answer to its id.
func answer(t *testing.T, ws *websocket.Conn, f wire.Frame) *wire.Message {
	t.Helper()
	b, err := wire.EncodeFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	ws.WriteMessage(websocket.BinaryMessage, b)
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if kind != websocket.TextMessage {
			continue
		}
		m, err := wire.Decode(data)
		if err == nil && m.Type == wire.TypeResult && m.ID == f.ID {
			return m
		}
	}
}

func TestChunkThatDoesNotMatchItsIDIsRefused(t *testing.T) {
	ws := session(t)
	content := []byte("the real content of a part")
	claimed := chunkstore.Sum([]byte("something else"))
	m := answer(t, ws, wire.Frame{Kind: wire.BinChunkPut, ID: 5, ChunkID: claimed, Payload: chunkstore.Encode(content)})
	if m.Error == nil || m.Error.Code != wire.CodeBadChunk {
		t.Fatalf("mismatched chunk: %+v", m)
	}
	// Garbage that is not an encoded chunk at all.
	m = answer(t, ws, wire.Frame{Kind: wire.BinChunkPut, ID: 6, ChunkID: claimed, Payload: []byte{99, 1, 2}})
	if m.Error == nil || m.Error.Code != wire.CodeBadChunk {
		t.Fatalf("bad encoding: %+v", m)
	}
	// The right one is taken.
	m = answer(t, ws, wire.Frame{Kind: wire.BinChunkPut, ID: 7, ChunkID: chunkstore.Sum(content), Payload: chunkstore.Encode(content)})
	if m.Error != nil {
		t.Fatalf("good chunk: %+v", m.Error)
	}
}

func TestCommitNeedsEveryChunk(t *testing.T) {
	ws := session(t)
	content := []byte("part content")
	id := chunkstore.Sum(content)
	mf := manifest.New(manifest.File{Path: "a.prt", Size: int64(len(content)), Mode: 0o644, Hash: id, Chunks: []manifest.ChunkRef{{ID: id, Size: len(content)}}})
	enc, err := manifest.Encode(mf)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(wire.FilesCommit{Path: "/a.prt"})
	m := answer(t, ws, wire.Frame{Kind: wire.BinCommit, ID: 8, Header: hdr, Payload: enc})
	if m.Error == nil || m.Error.Code != wire.CodeMissingChunks {
		t.Fatalf("commit before the chunk: %+v", m)
	}
	answer(t, ws, wire.Frame{Kind: wire.BinChunkPut, ID: 9, ChunkID: id, Payload: chunkstore.Encode(content)})
	m = answer(t, ws, wire.Frame{Kind: wire.BinCommit, ID: 10, Header: hdr, Payload: enc})
	var fi wire.FileInfo
	if m.Error != nil || json.Unmarshal(m.Body, &fi) != nil || fi.Version != 1 || fi.Size != int64(len(content)) {
		t.Fatalf("commit: %+v %s", m.Error, m.Body)
	}
	for _, tc := range []struct {
		hdr  wire.FilesCommit
		code string
	}{
		{wire.FilesCommit{Path: "/../etc/x"}, wire.CodeBadPath},
		{wire.FilesCommit{Path: "/a.prt", Base: 0}, wire.CodeConflict}, // version 1 exists
	} {
		h, _ := json.Marshal(tc.hdr)
		if m := answer(t, ws, wire.Frame{Kind: wire.BinCommit, ID: 11, Header: h, Payload: enc}); m.Error == nil || m.Error.Code != tc.code {
			t.Fatalf("%+v: %+v", tc.hdr, m)
		}
	}
	if m := answer(t, ws, wire.Frame{Kind: wire.BinCommit, ID: 12, Header: hdr, Payload: []byte("not a manifest")}); m.Error == nil || m.Error.Code != wire.CodeBadRequest {
		t.Fatalf("bad manifest: %+v", m)
	}
}

func TestGCKeepsVersionsAndUploadsInFlight(t *testing.T) {
	srv := servertest.Start(t)
	ws, _, err := websocket.DefaultDialer.Dial(srv.Endpoint, http.Header{"Authorization": {"Bearer " + srv.APIToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: 1, Product: srv.Product}})
	ws.WriteMessage(websocket.TextMessage, b)
	ws.ReadMessage()

	kept, abandoned := []byte("a committed part"), []byte("an upload that never committed")
	for i, c := range [][]byte{kept, abandoned} {
		answer(t, ws, wire.Frame{Kind: wire.BinChunkPut, ID: uint64(20 + i), ChunkID: chunkstore.Sum(c), Payload: chunkstore.Encode(c)})
	}
	id := chunkstore.Sum(kept)
	enc, _ := manifest.Encode(manifest.New(manifest.File{Path: "k.prt", Size: int64(len(kept)), Hash: id, Chunks: []manifest.ChunkRef{{ID: id, Size: len(kept)}}}))
	hdr, _ := json.Marshal(wire.FilesCommit{Path: "/k.prt"})
	if m := answer(t, ws, wire.Frame{Kind: wire.BinCommit, ID: 30, Header: hdr, Payload: enc}); m.Error != nil {
		t.Fatal(m.Error)
	}
	ctx := context.Background()
	// Within the grace period the abandoned upload is still in flight.
	stats, err := srv.Files().GC(ctx, "demo", time.Hour)
	if err != nil || stats.Deleted != 0 || stats.Chunks != 2 {
		t.Fatalf("GC within the grace: %+v %v", stats, err)
	}
	// Past it (grace -1s: the cut-off is in the future), it goes; the version's chunk stays.
	stats, err = srv.Files().GC(ctx, "demo", -time.Second)
	if err != nil || stats.Deleted != 1 || stats.Live != 1 {
		t.Fatalf("GC past the grace: %+v %v", stats, err)
	}
	have := wire.FilesHave{IDs: []string{chunkstore.Sum(kept).String(), chunkstore.Sum(abandoned).String()}}
	body, _ := json.Marshal(have)
	req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: 40, Op: wire.OpFilesHave, Body: body})
	ws.WriteMessage(websocket.TextMessage, req)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m, err := wire.Decode(data); err == nil && m.ID == 40 {
			var missing wire.FilesHave
			json.Unmarshal(m.Body, &missing)
			if len(missing.IDs) != 1 || missing.IDs[0] != chunkstore.Sum(abandoned).String() {
				t.Fatalf("after GC the service lacks %v", missing.IDs)
			}
			return
		}
	}
}
