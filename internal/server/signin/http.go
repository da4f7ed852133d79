package signin

import (
	"encoding/json"
	"errors"
	"net/http"
)

// readForm reads a form body of at most maxForm bytes.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &oauthError{http.StatusRequestEntityTooLarge, "invalid_request", "the form is larger than 8 KiB"}
		}
		return fail("invalid_request", "the body is not a form")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // RFC 6749 5.1: tokens are never cached
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = &oauthError{http.StatusInternalServerError, "server_error", "iscd failed"}
	}
	writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.desc})
}
