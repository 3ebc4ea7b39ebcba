package web

import (
	"context"
	"net/http"
)

func contextWith(r *http.Request, req *request) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, req)
}

func fromContext(r *http.Request) *request {
	req, _ := r.Context().Value(ctxKey{}).(*request)
	return req
}
