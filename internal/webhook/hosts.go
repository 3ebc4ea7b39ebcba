package webhook

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Built-in names of HostList, as Gitea's hostmatcher.
const (
	// External is any global unicast address that is not private.
	External = "external"
	// Private is RFC 1918 and RFC 4193 (fc00::/7): LAN and intranet.
	Private = "private"
	// Loopback is 127.0.0.0/8 and ::1.
	Loopback = "loopback"
)

// HostList is Gitea's [webhook] ALLOWED_HOST_LIST: a comma-separated list
// of built-in networks (external, private, loopback), CIDRs, and host name
// globs ("*.example.com"; "*" allows everything). A target is allowed when
// its host name matches a glob or its address matches the rest. It is
// checked when a hook is created and again when the worker connects (the
// dialer's Control function sees the resolved address), so a name that
// resolves to a forbidden address at delivery time (DNS rebinding) is
// refused too.
type HostList struct {
	setting  string
	builtins []string
	patterns []string
	nets     []*net.IPNet
	resolver *net.Resolver
}

// ParseHostList parses a host list; "" means External, Gitea's default.
// It returns an error naming a pattern that is not a valid glob.
func ParseHostList(setting string) (*HostList, error) {
	if strings.TrimSpace(setting) == "" {
		setting = External
	}
	hl := &HostList{setting: setting, resolver: net.DefaultResolver}
	for s := range strings.SplitSeq(setting, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if _, n, err := net.ParseCIDR(s); err == nil {
			hl.nets = append(hl.nets, n)
		} else if s == External || s == Private || s == Loopback {
			hl.builtins = append(hl.builtins, s)
		} else if _, err := filepath.Match(s, ""); err != nil {
			return nil, fmt.Errorf("host pattern %q: %v", s, err)
		} else {
			hl.patterns = append(hl.patterns, s)
		}
	}
	return hl, nil
}

// String returns the setting the list was parsed from.
func (hl *HostList) String() string { return hl.setting }

func (hl *HostList) matchName(host string) bool {
	host = strings.ToLower(host)
	for _, p := range hl.patterns {
		if ok, _ := filepath.Match(p, host); ok {
			return true
		}
	}
	return false
}

func (hl *HostList) matchIP(ip net.IP) bool {
	if slices.Contains(hl.patterns, "*") {
		return true
	}
	for _, b := range hl.builtins {
		switch {
		case b == External && ip.IsGlobalUnicast() && !ip.IsPrivate():
			return true
		case b == Private && ip.IsPrivate():
			return true
		case b == Loopback && ip.IsLoopback():
			return true
		}
	}
	for _, n := range hl.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// allowed reports whether host (a name or an address literal) with
// address ip (nil if unknown) may be called, as Gitea's MatchHostOrIP.
func (hl *HostList) allowed(host string, ip net.IP) bool {
	if hl.matchName(host) {
		return true
	}
	if lit := net.ParseIP(host); lit != nil && hl.matchIP(lit) {
		return true
	}
	return ip != nil && (hl.matchName(ip.String()) || hl.matchIP(ip))
}

func (hl *HostList) deny(host, addr string) error {
	return fmt.Errorf("webhook can only call allowed HTTP servers (check the --webhook-allowed-hosts setting, %q), deny '%s(%s)'", hl.setting, host, addr)
}

// CheckTarget implements depot.HookTargets: an allowed name passes; a
// name that is not matched by a glob is resolved, and every address must
// be allowed. A name that does not resolve is refused.
func (hl *HostList) CheckTarget(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	if hl.matchName(host) {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if !hl.matchIP(ip) {
			return hl.deny(host, ip.String())
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := hl.resolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, a := range addrs {
		if !hl.allowed(host, a.IP) {
			return hl.deny(host, a.IP.String())
		}
	}
	return nil
}

// Dialer returns a dialer that refuses, after resolution and before
// connecting, any address the list does not allow.
func (hl *HostList) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := net.Dialer{
			Timeout: timeout,
			Control: func(network, ipAddr string, _ syscall.RawConn) error {
				ta, err := net.ResolveTCPAddr(network, ipAddr)
				if err != nil {
					return fmt.Errorf("webhook can only call HTTP servers via TCP, deny '%s(%s:%s)': %w", host, network, ipAddr, err)
				}
				if !hl.allowed(host, ta.IP) {
					return hl.deny(host, ipAddr)
				}
				return nil
			},
		}
		return d.DialContext(ctx, network, addr)
	}
}
