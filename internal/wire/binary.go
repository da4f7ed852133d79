package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Binary frames carry bulk data: chunks and manifests. Each starts with a
// kind byte and the id of the request it belongs to:
//
//	kind (1) | request id (8, big-endian) | payload
//
// A frame from the client is a request of its own (the service answers
// with a "res" message of that id); a frame from the service answers the
// client's request of that id instead of a "res" message.
const (
	BinChunkPut  byte = 1 // client → service: chunk id (32) | encoded chunk
	BinChunkData byte = 2 // service → client: chunk id (32) | encoded chunk
	BinCommit    byte = 3 // client → service: header length (4) | JSON header | manifest
	BinManifest  byte = 4 // service → client: manifest
	BinJobSubmit byte = 5 // client → service: header length (4) | JSON JobSubmit | inputs manifest
	BinJobChunk  byte = 6 // worker → service: header length (4) | JSON JobChunk | encoded chunk
	BinJobDone   byte = 7 // worker → service: header length (4) | JSON JobDone | outputs manifest
)

// FrameName is a frame kind's name, for logs and metrics: "chunk_put",
// "commit"; "binary_N" for a kind it does not know.
func FrameName(kind byte) string {
	switch kind {
	case BinChunkPut:
		return "chunk_put"
	case BinChunkData:
		return "chunk_data"
	case BinCommit:
		return "commit"
	case BinManifest:
		return "manifest"
	case BinJobSubmit:
		return "job_submit"
	case BinJobChunk:
		return "job_chunk"
	case BinJobDone:
		return "job_done"
	}
	return "binary_" + strconv.Itoa(int(kind))
}

// hasHeader reports whether frames of kind carry a JSON header, laid out
// as BinCommit's.
func hasHeader(kind byte) bool {
	return kind == BinCommit || kind == BinJobSubmit || kind == BinJobChunk || kind == BinJobDone
}

// binHeader is the size of the kind and the request id.
const binHeader = 9

// ChunkIDLen is the size of a chunk id (a SHA-256).
const ChunkIDLen = 32

// Frame is a decoded binary frame.
type Frame struct {
	Kind    byte
	ID      uint64 // the request id
	ChunkID [ChunkIDLen]byte
	Header  []byte // the JSON header of BinCommit, BinJobSubmit, BinJobChunk, BinJobDone
	Payload []byte // the chunk (encoded), or the manifest
}

// EncodeFrame lays f out for the wire.
func EncodeFrame(f Frame) ([]byte, error) {
	n, err := headSize(f)
	if err != nil {
		return nil, err
	}
	b, err := AppendFrameHead(make([]byte, 0, n+len(f.Payload)), f, len(f.Payload))
	if err != nil {
		return nil, err
	}
	return append(b, f.Payload...), nil
}

// FrameHeadLen is the size of what every frame starts with: its kind and
// request id.
const FrameHeadLen = binHeader

// AppendFrameHead appends to dst what f's frame holds before its payload
// (f.Payload is not read): the frame whose payload of size payload is
// then appended is EncodeFrame's, laid out without copying the payload
// twice. A frame over MaxBinaryMessage is ErrTooLarge.
func AppendFrameHead(dst []byte, f Frame, payload int) ([]byte, error) {
	n, err := headSize(f)
	if err != nil {
		return nil, err
	}
	if n+payload > MaxBinaryMessage {
		return nil, ErrTooLarge
	}
	dst = append(dst, f.Kind)
	dst = binary.BigEndian.AppendUint64(dst, f.ID)
	switch f.Kind {
	case BinChunkPut, BinChunkData:
		dst = append(dst, f.ChunkID[:]...)
	case BinManifest:
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Header)))
		dst = append(dst, f.Header...)
	}
	return dst, nil
}

// headSize is the size of f's frame less its payload.
func headSize(f Frame) (int, error) {
	switch f.Kind {
	case BinChunkPut, BinChunkData:
		return binHeader + ChunkIDLen, nil
	case BinManifest:
		return binHeader, nil
	}
	if !hasHeader(f.Kind) {
		return 0, fmt.Errorf("wire: unknown frame kind %d", f.Kind)
	}
	return binHeader + 4 + len(f.Header), nil
}

// DecodeFrame parses a binary frame. The slices point into b.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if len(b) < binHeader {
		return f, errors.New("wire: binary frame shorter than its header")
	}
	if len(b) > MaxBinaryMessage {
		return f, ErrTooLarge
	}
	f.Kind, f.ID, b = b[0], binary.BigEndian.Uint64(b[1:binHeader]), b[binHeader:]
	if f.ID == 0 {
		return f, errors.New("wire: binary frame without a request id")
	}
	switch f.Kind {
	case BinChunkPut, BinChunkData:
		if len(b) < ChunkIDLen {
			return f, errors.New("wire: chunk frame without a chunk id")
		}
		copy(f.ChunkID[:], b)
		b = b[ChunkIDLen:]
	case BinManifest:
	default:
		if !hasHeader(f.Kind) {
			return f, fmt.Errorf("wire: unknown frame kind %d", f.Kind)
		}
		if len(b) < 4 {
			return f, fmt.Errorf("wire: frame kind %d without a header length", f.Kind)
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) || n > MaxControlMessage {
			return f, fmt.Errorf("wire: frame kind %d: header longer than the frame", f.Kind)
		}
		f.Header, b = b[4:4+n], b[4+n:]
	}
	f.Payload = b
	return f, nil
}
