package dashboard

import (
	"embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageSet holds one parsed template set per page. It is read-only after
// parsePages, so concurrent execution is safe.
type pageSet map[string]*template.Template

// parsePages parses one template set per page: templates/layout.html plus
// templates/<name>.html, which defines "content" (inside the layout) and,
// for a live page, "live" (the self-refreshing block, served alone as the
// page's fragment).
func parsePages() (pageSet, error) {
	pageNames := [...]string{"cluster", "collectors", "pools", "pool", "licenses", "metrics", "history", "hub", "alerts", "audit", "compliance", "reports", "allocation", "updates", "login", "notfound"}
	base, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse layout: %w", err)
	}
	set := make(pageSet, len(pageNames))
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("dashboard: clone layout for %s: %w", name, err)
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("dashboard: parse %s: %w", name, err)
		}
		set[name] = t
	}
	return set, nil
}

func (s pageSet) execute(w io.Writer, set, name string, d pageData) error {
	t, ok := s[set]
	if !ok {
		return fmt.Errorf("dashboard: no template set %q", set)
	}
	return t.ExecuteTemplate(w, name, d)
}
