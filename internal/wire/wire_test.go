package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var samples = []*Message{
	{Type: TypeHello, Hello: &Hello{Protocol: 1, Product: "demo-cad", AppVersion: "2024.1.3", Device: "04:7C:16:5E:E3:5D|001B||BFEBFBFF", SDK: "go/0.1.0",
		Resume: &Resume{Session: "8c1d", Token: "isr_a_b", LastSeq: 41}}},
	{Type: TypeWelcome, Welcome: &Welcome{Session: "8c1d", ResumeToken: "isr_a_b", Resumed: true, ServerTime: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		HeartbeatMS: 15000, Capabilities: []string{"events", "ping"}, FirstSeq: 40}},
	{Type: TypeRequest, ID: 7, Op: OpPing, Body: json.RawMessage(`{"clientTime":"2026-11-27T09:00:00Z"}`)},
	{Type: TypeResult, ID: 7, Body: json.RawMessage(`{"serverTime":"2026-11-27T09:00:00Z"}`)},
	{Type: TypeResult, ID: 8, Error: &Error{Code: CodeUnknownOp, Message: "unknown op x"}},
	{Type: TypeEvent, Seq: 42, Event: &Event{Kind: KindNotice, Operate: "Notice", Params: map[string]string{"title": "维护", "text": "18:00"},
		ComeBack: json.RawMessage(`{"doc":1}`), RequestID: 3}},
	{Type: TypeAck, Seq: 42},
	{Type: TypeBye, Reason: ByeShutdown, Text: "restarting"},
}

func TestRoundTrip(t *testing.T) {
	for _, m := range samples {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %s: %v", m.Type, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", m.Type, err, b)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", m.Type, got, m)
		}
	}
}

func TestEncodingIsCompact(t *testing.T) {
	b, _ := Encode(&Message{Type: TypeAck, Seq: 9})
	if string(b) != `{"type":"ack","seq":9}` {
		t.Fatalf("ack encodes as %s", b)
	}
}

func TestDecodeRejects(t *testing.T) {
	long := strings.Repeat("x", MaxFieldLen+1)
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `hello`, "decode"},
		{"no type", `{}`, "without type"},
		{"unknown type", `{"type":"nope"}`, "unknown message type"},
		{"hello without body", `{"type":"hello"}`, "without hello body"},
		{"hello without product", `{"type":"hello","hello":{"protocol":1}}`, "without product"},
		{"hello long device", `{"type":"hello","hello":{"protocol":1,"product":"p","device":"` + long + `"}}`, "device longer"},
		{"resume without token", `{"type":"hello","hello":{"protocol":1,"product":"p","resume":{"session":"s"}}}`, "resume without"},
		{"request without id", `{"type":"req","op":"ping"}`, "without id"},
		{"request without op", `{"type":"req","id":1}`, "without id or op"},
		{"result without id", `{"type":"res"}`, "without id"},
		{"event without seq", `{"type":"event","event":{"operate":"X"}}`, "without seq"},
		{"event without operate", `{"type":"event","seq":1,"event":{}}`, "without seq or operate"},
		{"ack without seq", `{"type":"ack"}`, "without seq"},
		{"bye without reason", `{"type":"bye"}`, "without reason"},
		{"trailing data", `{"type":"ack","seq":1}{"type":"ack","seq":2}`, "trailing"},
		{"negative id", `{"type":"res","id":-1}`, "decode"},
		{"invalid utf-8", "{\"type\":\"bye\",\"reason\":\"\xff\"}", "UTF-8"},
	} {
		_, err := Decode([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	big := append([]byte(`{"type":"bye","reason":"`), bytes.Repeat([]byte("x"), MaxControlMessage)...)
	if _, err := Decode(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := Encode(&Message{Type: TypeBye, Reason: "r", Text: string(big)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("encode oversized: %v", err)
	}
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// message that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, m := range samples {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"event","seq":1,"event":{"operate":"X","params":{"a":"b"},"comeBackParams":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted message does not re-encode: %v", err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip changed the message\n%+v\n%+v", m, m2)
		}
	})
}

// normalize re-encodes raw JSON so that equal values compare equal.
func normalize(m *Message) *Message {
	c := *m
	compact := func(r json.RawMessage) json.RawMessage {
		if len(r) == 0 || string(r) == "null" {
			return nil
		}
		var v any
		if json.Unmarshal(r, &v) != nil {
			return r
		}
		out, _ := json.Marshal(v) // one spelling per value (escapes, spaces, key order)
		return out
	}
	c.Body = compact(c.Body)
	if c.Event != nil {
		e := *c.Event
		e.ComeBack = compact(e.ComeBack)
		if len(e.Params) == 0 {
			e.Params = nil
		}
		c.Event = &e
	}
	return &c
}

func TestFrames(t *testing.T) {
	for _, f := range []Frame{
		{Kind: BinChunkPut, ID: 7, ChunkID: [32]byte{1, 2, 3}, Payload: []byte("chunk")},
		{Kind: BinChunkData, ID: 8, ChunkID: [32]byte{9}, Payload: []byte{}},
		{Kind: BinCommit, ID: 9, Header: []byte(`{"path":"/a.prt"}`), Payload: []byte("manifest")},
		{Kind: BinManifest, ID: 10, Payload: []byte("manifest")},
	} {
		b, err := EncodeFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeFrame(b)
		if err != nil || got.Kind != f.Kind || got.ID != f.ID || got.ChunkID != f.ChunkID ||
			string(got.Header) != string(f.Header) || string(got.Payload) != string(f.Payload) {
			t.Fatalf("round trip of kind %d: %+v %v", f.Kind, got, err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"no id":            {BinManifest, 0, 0, 0, 0, 0, 0, 0, 0},
		"unknown kind":     {99, 0, 0, 0, 0, 0, 0, 0, 1},
		"short chunk id":   {BinChunkPut, 0, 0, 0, 0, 0, 0, 0, 1, 5},
		"header too long":  {BinCommit, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 'x'},
		"no header length": {BinCommit, 0, 0, 0, 0, 0, 0, 0, 1, 0},
	} {
		if _, err := DecodeFrame(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := EncodeFrame(Frame{Kind: BinManifest, ID: 1, Payload: make([]byte, MaxBinaryMessage)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{BinCommit, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, '{', '}', 'm'})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		again, err := EncodeFrame(fr)
		if err != nil || string(again) != string(b) {
			t.Fatalf("accepted frame does not re-encode to itself: %v", err)
		}
	})
}

func TestFrameHeadThenPayloadIsTheFrame(t *testing.T) {
	payload := []byte("the encoded chunk")
	for _, f := range []Frame{
		{Kind: BinChunkPut, ID: 7, ChunkID: [ChunkIDLen]byte{1, 2, 3}},
		{Kind: BinManifest, ID: 8},
		{Kind: BinJobChunk, ID: 9, Header: []byte(`{"id":"j"}`)},
	} {
		head, err := AppendFrameHead(nil, f, len(payload))
		if err != nil {
			t.Fatal(err)
		}
		f.Payload = payload
		whole, err := EncodeFrame(f)
		if err != nil || !bytes.Equal(append(head, payload...), whole) {
			t.Fatalf("kind %d: head+payload differs from the frame (%v)", f.Kind, err)
		}
	}
	if _, err := AppendFrameHead(nil, Frame{Kind: BinChunkPut}, MaxBinaryMessage); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a frame over the limit: %v", err)
	}
	if _, err := AppendFrameHead(nil, Frame{Kind: 99}, 1); err == nil {
		t.Fatal("an unknown kind laid out")
	}
}
