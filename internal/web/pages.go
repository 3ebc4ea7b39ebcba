package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

type exploreData struct {
	Query      string
	Page       *depot.ExplorePage
	PageNum    int
	PrevPage   int
	NextPage   int
	FirstIndex int
}

func (h *Handler) explore(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	n := pageNumber(r)
	res, err := h.svc.Explore(r.Context(), a, q, pageSize, (n-1)*pageSize)
	if err != nil {
		return err
	}
	d := exploreData{Query: q, Page: res, PageNum: n, FirstIndex: (n-1)*pageSize + 1}
	if n > 1 {
		d.PrevPage = n - 1
	}
	if int64(n*pageSize) < res.Total {
		d.NextPage = n + 1
	}
	fromContext(r).nav = "explore"
	return h.render(w, r, http.StatusOK, "explore", "Explore packages", d)
}

type ownerData struct {
	*depot.OwnerOverview
	Usage    *depot.UsageReport
	Filter   string
	PrevPage int
	NextPage int
}

func (h *Handler) owner(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	filter := strings.TrimSpace(r.URL.Query().Get("q"))
	n := pageNumber(r)
	ov, err := h.svc.OwnerPackages(r.Context(), a, r.PathValue("owner"), filter, n, pageSize)
	if err != nil {
		return err
	}
	// The limits, and the version count only when it is limited: the
	// page shows the storage used already.
	q, err := h.svc.OwnerLimits(r.Context(), a, ov.Owner.Name)
	if err != nil {
		return err
	}
	usage := &depot.UsageReport{Owner: ov.Owner, Quota: *q, Usage: depot.Usage{Bytes: ov.StorageUsed}}
	if q.MaxVersions >= 0 {
		if usage, err = h.svc.OwnerUsage(r.Context(), a, ov.Owner.Name); err != nil {
			return err
		}
	}
	d := ownerData{OwnerOverview: ov, Usage: usage, Filter: filter}
	if n > 1 {
		d.PrevPage = n - 1
	}
	if int64(n*pageSize) < ov.Total {
		d.NextPage = n + 1
	}
	if r.URL.Query().Get("deleted") != "" {
		fromContext(r).flash = "The version was deleted."
	}
	return h.render(w, r, http.StatusOK, "owner", ov.Owner.Name, d)
}

func (h *Handler) pkg(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	d, err := h.svc.PackageVersions(r.Context(), a, r.PathValue("owner"), r.PathValue("name"))
	if err != nil {
		return err
	}
	pd := packageData{PackageDetail: d, Chart: newChart(d.Downloads)}
	for _, v := range d.Versions {
		if v.Latest {
			if pd.LatestCommands, err = h.latestCommands(r, a, d, v); err != nil {
				return err
			}
		}
	}
	return h.render(w, r, http.StatusOK, "package", d.Owner.Name+"/"+d.Package.Name, pd)
}

type packageData struct {
	*depot.PackageDetail
	Chart *chart
	// LatestCommands download the latest version's files (and the
	// version as an archive) by the latest route, which always answers the
	// newest: commands to keep in a script.
	LatestCommands []command
}

// maxLatestFiles bounds the per-file latest commands on a package page.
const maxLatestFiles = 10

// latestCommands are the package page's copy boxes: the latest version's
// files by the latest and range routes of each dialect, the archive, and
// the client.
func (h *Handler) latestCommands(r *http.Request, a *depot.Actor, d *depot.PackageDetail, latest *depot.VersionRow) ([]command, error) {
	files, err := h.svc.VersionFiles(r.Context(), a, depot.VersionRef{Owner: d.Owner.Name, Type: depot.TypeGeneric, Package: d.Package.Name, Version: latest.Version.Version})
	if err != nil {
		return nil, err
	}
	base := fromContext(r).baseURL
	owner, pkg := d.Owner.Name, d.Package.Name
	gitea := base + "/api/packages/" + url.PathEscape(owner) + "/generic/" + url.PathEscape(pkg)
	auth := "curl -fL -H 'Authorization: token <TOKEN>' "
	var out []command
	add := func(dialect, text string) {
		out = append(out, command{Dialect: dialect, ID: "cmd-latest-" + itoa(len(out)), Text: text})
	}
	for i, f := range files {
		if i == maxLatestFiles {
			break
		}
		add("Latest "+f.Name+" (Gitea / Forgejo API)", auth+"-o "+shellQuote(f.Name)+" "+shellQuote(gitea+"/-/latest/"+url.PathEscape(f.Name)))
	}
	if len(files) > 0 {
		f := files[0]
		if major, ok := majorOf(latest.Version.Version); ok {
			add("Highest "+major+".x of "+f.Name, auth+"-o "+shellQuote(f.Name)+" "+shellQuote(gitea+"/-/range/"+url.PathEscape("^"+major)+"/"+url.PathEscape(f.Name)))
		}
	}
	add("Latest version as one archive", auth+"-o "+shellQuote(pkg+"-latest.zip")+" "+shellQuote(gitea+"/-/latest/-/archive.zip"))
	if p := latest.Project; p != nil && len(files) > 0 {
		gl := base + "/api/v4/projects/" + itoa(int(p.ID)) + "/packages/generic/" + url.PathEscape(pkg) + "/@latest/"
		name := files[0].Name
		add("Latest "+name+" (GitLab API)", "curl -fL -H 'PRIVATE-TOKEN: <TOKEN>' -o "+shellQuote(name)+" "+shellQuote(gl+url.PathEscape(name)))
	}
	add("depot client", "depot pull "+shellQuote(owner+"/"+pkg+"@latest"))
	return out, nil
}

// majorOf returns the major number of a semantic version ("v2.1.0": "2").
func majorOf(v string) (string, bool) {
	v = strings.TrimPrefix(v, "v")
	major, rest, ok := strings.Cut(v, ".")
	if !ok || major == "" || strings.Count(rest, ".") < 1 {
		return "", false
	}
	if _, err := strconv.ParseUint(major, 10, 64); err != nil {
		return "", false
	}
	return major, true
}

// archive answers the version page's archive links.
func (h *Handler) archive(format httpapi.ArchiveFormat) func(http.ResponseWriter, *http.Request, *depot.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		vc, err := h.svc.OpenVersion(r.Context(), a, h.versionRef(r))
		if err != nil {
			return err
		}
		httpapi.ServeArchive(w, r, h.log, vc, format)
		return nil
	}
}

type fileRow struct {
	*depot.File
	WebURL   string
	Commands []command
}

type command struct {
	Dialect string
	ID      string
	Text    string
}

type versionData struct {
	*depot.VersionDetail
	Files []fileRow
	// ArchiveURL is the version's archive (append ".zip" or ".tar.gz");
	// ArchiveCommand fetches it with curl.
	ArchiveURL     string
	ArchiveCommand command
}

func (h *Handler) versionRef(r *http.Request) depot.VersionRef {
	return depot.VersionRef{Owner: r.PathValue("owner"), Type: depot.TypeGeneric, Package: r.PathValue("name"), Version: r.PathValue("version")}
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ref := h.versionRef(r)
	d, err := h.svc.VersionFilesDetail(r.Context(), a, ref, r.URL.Query().Get("digests") == "all")
	if err != nil {
		return err
	}
	base := fromContext(r).baseURL
	owner, pkg, ver := d.Owner.Name, d.Version.Package.Name, d.Version.Version.Version
	vd := versionData{VersionDetail: d, ArchiveURL: verPath(owner, pkg, ver) + "/-/archive"}
	vd.ArchiveCommand = command{
		Dialect: "Whole version (Gitea / Forgejo API)",
		ID:      "cmd-archive",
		Text: "curl -fL -H 'Authorization: token <TOKEN>' -o " + shellQuote(pkg+"-"+ver+".zip") + " " +
			shellQuote(base+"/api/packages/"+url.PathEscape(owner)+"/generic/"+url.PathEscape(pkg)+"/"+url.PathEscape(ver)+"/-/archive.zip"),
	}
	for i, f := range d.Files {
		tail := url.PathEscape(pkg) + "/" + url.PathEscape(ver) + "/" + url.PathEscape(f.Name)
		row := fileRow{File: f, WebURL: verPath(owner, pkg, ver) + "/files/" + url.PathEscape(f.Name)}
		giteaURL := base + "/api/packages/" + url.PathEscape(owner) + "/generic/" + tail
		row.Commands = append(row.Commands, command{
			Dialect: "Gitea / Forgejo API",
			ID:      "cmd-gitea-" + itoa(i),
			Text:    "curl -fL -H 'Authorization: token <TOKEN>' -o " + shellQuote(f.Name) + " " + shellQuote(giteaURL),
		})
		if p := d.Version.Project; p != nil {
			gitlabURL := base + "/api/v4/projects/" + itoa(int(p.ID)) + "/packages/generic/" + tail
			row.Commands = append(row.Commands, command{
				Dialect: "GitLab API",
				ID:      "cmd-gitlab-" + itoa(i),
				Text:    "curl -fL -H 'PRIVATE-TOKEN: <TOKEN>' -o " + shellQuote(f.Name) + " " + shellQuote(gitlabURL),
			})
		}
		vd.Files = append(vd.Files, row)
	}
	return h.render(w, r, http.StatusOK, "version", owner+"/"+pkg+" "+ver, vd)
}

func itoa(n int) string { return strconv.Itoa(n) }

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ref := depot.FileRef{Owner: r.PathValue("owner"), Type: depot.TypeGeneric, Package: r.PathValue("name"), Version: r.PathValue("version"), File: r.PathValue("file")}
	return httpapi.Download(w, r, h.svc, a, ref)
}

func (h *Handler) deleteVersion(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ref := h.versionRef(r)
	if err := h.svc.DeleteVersion(r.Context(), a, ref); err != nil {
		return err
	}
	// The package may be gone with its last version: go to the owner.
	http.Redirect(w, r, "/"+url.PathEscape(ref.Owner)+"?deleted=1", http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ref := depot.FileRef{Owner: r.PathValue("owner"), Type: depot.TypeGeneric, Package: r.PathValue("name"), Version: r.PathValue("version"), File: r.PathValue("file")}
	if err := h.svc.DeleteFile(r.Context(), a, ref); err != nil {
		return err
	}
	to := verPath(ref.Owner, ref.Package, ref.Version)
	if _, err := h.svc.VersionFiles(r.Context(), a, depot.VersionRef{Owner: ref.Owner, Type: ref.Type, Package: ref.Package, Version: ref.Version}); errors.Is(err, depot.ErrNotFound) {
		to = "/" + url.PathEscape(ref.Owner)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

type signInData struct {
	Username string
	Next     string
	Error    string
}

// safeNext returns next if it is a path on this site, else "/": a
// sign-in must not redirect elsewhere. Browsers ignore tabs and newlines in
// URLs and read a backslash as a slash, so "/\t/evil.example" would leave
// the site; such characters are refused.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == '\\' || c == 0x7f {
			return "/"
		}
	}
	return next
}

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	next := safeNext(r.URL.Query().Get("next"))
	if !a.IsAnonymous() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	fromContext(r).nav = "signin"
	return h.render(w, r, http.StatusOK, "signin", "Sign in", signInData{Next: next})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	d := signInData{Username: r.PostFormValue("username"), Next: safeNext(r.PostFormValue("next"))}
	secret, _, err := h.svc.SignIn(r.Context(), h.opts.Limiter, depot.SignInRequest{
		Username: d.Username, Password: r.PostFormValue("password"), Client: clientKey(r),
	})
	switch {
	case errors.Is(err, depot.ErrUnauthenticated):
		d.Error = "Wrong user name or password."
		return h.render(w, r, http.StatusUnauthorized, "signin", "Sign in", d)
	case errors.Is(err, depot.ErrRateLimited):
		d.Error = depot.ErrorMessage(err)
		w.Header().Set("Retry-After", "600")
		return h.render(w, r, http.StatusTooManyRequests, "signin", "Sign in", d)
	case err != nil:
		return err
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		_ = h.svc.SignOut(r.Context(), old.Value)
	}
	h.setCookie(w, r, sessionCookie, secret, depot.SessionLifetime)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
	return nil
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if s := fromContext(r).secret; s != "" {
		if err := h.svc.SignOut(r.Context(), s); err != nil {
			return err
		}
	}
	h.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// requireSignIn sends anonymous visitors to the sign-in page and reports
// whether it did.
func requireSignIn(w http.ResponseWriter, r *http.Request, a *depot.Actor) bool {
	if !a.IsAnonymous() {
		return false
	}
	http.Redirect(w, r, "/-/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return true
}
