package api

import (
	"net/http"
	"strings"
)

// authedHandler serves a request from an identified caller.
type authedHandler func(w http.ResponseWriter, r *http.Request, by string)

// auth requires a bearer token (RFC 6750 §2.1) before a change and passes
// the token's name on as the caller's identity. Failures are logged with
// the caller's address, never with what it sent.
func (s *Server) auth(op string, h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		// The scheme is case-insensitive (RFC 9110 §11.1).
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			s.log.Warn("api: change refused: no bearer token", "op", op, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="rackwatch"`)
			writeError(w, http.StatusUnauthorized, "this call changes state and needs a token: send Authorization: Bearer <token>")
			return
		}
		name, ok := s.opts.Tokens.identify(tok)
		if !ok {
			s.log.Warn("api: change refused: invalid token", "op", op, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="rackwatch", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		h(w, r, name)
	}
}
