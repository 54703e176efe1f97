package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// staticFS holds the vendored htmx and the stylesheet; static/README (the
// vendoring note) is deliberately not embedded.
//
//go:embed static/htmx.min.js static/dashboard.css static/favicon.svg
var staticFS embed.FS

// staticHandler serves the embedded files under prefix+"/static/" and
// returns each file's URL with a content hash in its query, so browsers may
// cache them for long and still fetch a new build's files at once.
func staticHandler(prefix string) (http.Handler, map[string]string, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, nil, fmt.Errorf("dashboard: static files: %w", err)
	}
	assets := map[string]string{}
	err = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		assets[path] = prefix + "/static/" + path + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dashboard: static files: %w", err)
	}
	files := http.StripPrefix(prefix+"/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	}), assets, nil
}

// Static returns the embedded static files (htmx.min.js, dashboard.css,
// favicon.svg) for licmesh's other pages, the hub's, to serve the same
// ones: htmx is vendored once, here (static/README says where it came from).
func Static() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // "static" is a valid path: fs.Sub cannot fail on it
	}
	return sub
}
