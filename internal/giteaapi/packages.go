package giteaapi

import (
	"net/http"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

func versionRef(r *http.Request) depot.VersionRef {
	return depot.VersionRef{
		Owner: r.PathValue("owner"), Type: depot.PackageType(r.PathValue("type")),
		Package: r.PathValue("name"), Version: r.PathValue("version"),
	}
}

// listPackages answers GET /packages/{owner}: one entry per version, newest
// first, filtered by type and by a name substring (q).
func (h *Handler) listPackages(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	page, size := listOptions(r)
	return h.writeVersions(w, r, a, depot.PackageQuery{
		Owner: r.PathValue("owner"),
		Type:  depot.PackageType(strings.TrimSpace(r.FormValue("type"))),
		Name:  strings.TrimSpace(r.FormValue("q")),
		Limit: size, Offset: (page - 1) * size,
	}, size)
}

// listPackageVersions answers GET /packages/{owner}/{type}/{name}: 404 for
// a package that does not exist, as Gitea 1.26 (whose PackageAssignmentAPI
// looks the package up first; older releases answered 200 []). A package
// lives while it has a version, so no version at all means no package.
func (h *Handler) listPackageVersions(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	page, size := listOptions(r)
	return h.writeVersions(w, r, a, depot.PackageQuery{
		Owner: r.PathValue("owner"), Type: depot.PackageType(r.PathValue("type")),
		Name: r.PathValue("name"), ExactName: true,
		Limit: size, Offset: (page - 1) * size,
	}, size)
}

func (h *Handler) writeVersions(w http.ResponseWriter, r *http.Request, a *depot.Actor, q depot.PackageQuery, size int) error {
	res, err := h.svc.ListVersions(r.Context(), a, q)
	if err != nil {
		return err
	}
	if q.ExactName && res.Total == 0 {
		return depot.Errorf(depot.ErrNotFound, "package %q does not exist", q.Name)
	}
	out := make([]apiPackage, 0, len(res.Versions))
	for _, v := range res.Versions {
		out = append(out, h.toPackage(r, a, res.Owner, v))
	}
	h.setPageHeaders(w, r, res.Total, size)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) latestPackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, pv, err := h.svc.LatestPackageVersion(r.Context(), a, r.PathValue("owner"), depot.PackageType(r.PathValue("type")), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.toPackage(r, a, owner, pv))
	return nil
}

func (h *Handler) getPackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, pv, err := h.svc.PackageVersion(r.Context(), a, versionRef(r))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.toPackage(r, a, owner, pv))
	return nil
}

func (h *Handler) listPackageFiles(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	files, err := h.svc.VersionFiles(r.Context(), a, versionRef(r))
	if err != nil {
		return err
	}
	out := make([]apiPackageFile, 0, len(files))
	for _, f := range files {
		out = append(out, toFile(f))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deletePackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := h.svc.DeletePackageVersion(r.Context(), a, versionRef(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteWholePackage answers DELETE /api/v1/packages/{owner}/{type}/{name}
// with 204, as Gitea 1.26's DeletePackage does.
func (h *Handler) deleteWholePackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	err := h.svc.DeletePackage(r.Context(), a, r.PathValue("owner"), depot.PackageType(r.PathValue("type")), r.PathValue("name"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// linkPackage answers POST .../-/link/{project} with 201, as Gitea does for
// a repository.
func (h *Handler) linkPackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	err := h.svc.LinkPackage(r.Context(), a, r.PathValue("owner"), depot.PackageType(r.PathValue("type")), r.PathValue("name"), r.PathValue("project"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// unlinkPackage answers POST .../-/unlink with 204, as Gitea's UnlinkPackage
// does (its swagger comment says 201).
func (h *Handler) unlinkPackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := h.svc.UnlinkPackage(r.Context(), a, r.PathValue("owner"), depot.PackageType(r.PathValue("type")), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
