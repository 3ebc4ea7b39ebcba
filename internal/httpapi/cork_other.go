//go:build !linux

package httpapi

import "net"

func setCork(*net.TCPConn, bool) bool { return false }
