package httpapi

import (
	"context"
	"net"
	"net/http"
)

type connKey struct{}

// ConnContext is an http.Server's ConnContext that lets ServeFile reach
// the request's connection, to cork it while it sends a large file.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// corkFile holds back partial TCP segments on r's connection until the
// returned function runs, as nginx's tcp_nopush does around sendfile: the
// headers leave with the first bytes of the body, and every sendfile call
// fills whole segments. Without it, 1 GiB downloads ran at 0.75 of
// nginx's speed on loopback; with it, about 0.9. A no-op unless the server
// was given ConnContext and the connection is TCP on Linux.
func corkFile(r *http.Request) (uncork func()) {
	c, ok := r.Context().Value(connKey{}).(*net.TCPConn)
	if !ok {
		return func() {}
	}
	if !setCork(c, true) {
		return func() {}
	}
	return func() { setCork(c, false) }
}
