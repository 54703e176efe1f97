// Package licmesh_test holds the architecture of DESIGN.md section 5 as
// tests: which layer may import which, and that every hand-written package
// says what it is for. A change that breaks the layering fails here, with
// the offending import named, instead of living on by discipline.
package licmesh_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/licmesh/licmesh"

// pkg is what `go list -json` says of one package, as far as these tests
// need it.
type pkg struct {
	ImportPath   string
	Doc          string
	GoFiles      []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
	Standard     bool
}

func (p pkg) rel() string { return strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/") }

// allImports is every package p names in an import, its tests' included.
func (p pkg) allImports() []string {
	return slices.Concat(p.Imports, p.TestImports, p.XTestImports)
}

// listPackages runs go list once over the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-deps=false", "-json", "./...").Output()
	require.NoError(t, err, "go list")
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// under reports whether import path ip is the project package dir or below it.
func under(ip, dir string) bool {
	full := module + "/" + dir
	return ip == full || strings.HasPrefix(ip, full+"/")
}

// std reports whether ip is in the standard library (no dot in its first element).
func std(ip string) bool {
	first, _, _ := strings.Cut(ip, "/")
	return !strings.Contains(first, ".")
}

// licensingExceptions are the packages licensing/... may import beyond the
// standard library and golang.org/x/crypto, each with the reason it is kept.
var licensingExceptions = map[string]string{
	// The usage grids are seed 004's spreadsheets: writing XLSX by hand is
	// not something the domain should own, and excelize is the field's
	// library for it. It is only in usagegrid, a view of the domain.
	"licensing/usage/usagegrid -> github.com/xuri/excelize/v2": "XLSX output of seed 004's usage grids",
	// Releases are TUF metadata (DESIGN.md): go-tuf is the field's
	// implementation of its client workflow, and its signing API takes
	// sigstore's signers.
	"licensing/release -> github.com/theupdateframework/go-tuf/v2/metadata":                 "TUF metadata of signed releases",
	"licensing/release -> github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata": "the TUF client workflow",
	"licensing/release -> github.com/sigstore/sigstore/pkg/signature":                       "go-tuf's signer type",
}

// testOnly are third-party packages any test may import.
var testOnly = []string{"github.com/stretchr/testify/"}

func TestLayering(t *testing.T) {
	var problems []string
	bad := func(p pkg, imp, rule string) {
		problems = append(problems, fmt.Sprintf("%s imports %s: %s", p.rel(), imp, rule))
	}
	for _, p := range listPackages(t) {
		rel := p.rel()
		for _, imp := range p.allImports() {
			inTests := !slices.Contains(p.Imports, imp)
			switch {
			case under(imp, "cmd") && !under(p.ImportPath, "cmd"):
				bad(p, imp, "nothing imports cmd/...")
			case under(imp, "cmd") && under(p.ImportPath, "cmd") && !strings.HasPrefix(imp, p.ImportPath):
				bad(p, imp, "one command never imports another")
			case under(imp, "e2e") && !under(p.ImportPath, "e2e"):
				bad(p, imp, "nothing imports e2e/...")
			}
			project := strings.HasPrefix(imp, module+"/")
			switch {
			case under(p.ImportPath, "licensing"):
				if std(imp) || strings.HasPrefix(imp, "golang.org/x/crypto/") || under(imp, "licensing") {
					continue
				}
				if inTests && slices.ContainsFunc(testOnly, func(pre string) bool { return strings.HasPrefix(imp, pre) }) {
					continue
				}
				if _, ok := licensingExceptions[rel+" -> "+imp]; ok {
					continue
				}
				bad(p, imp, "licensing/... is the pure domain: the standard library and golang.org/x/crypto only")
			case under(p.ImportPath, "mesh/wire"):
				if project && !under(imp, "mesh/wire") {
					bad(p, imp, "mesh/wire is the protocol and depends on nothing of the project")
				}
			case under(p.ImportPath, "mesh"):
				if under(imp, "node") || under(imp, "collectors") {
					bad(p, imp, "mesh/... sits below node/ and collectors/")
				}
			case under(p.ImportPath, "node"):
				if under(imp, "collectors") {
					bad(p, imp, "node/ and collectors/ never import each other")
				}
			case under(p.ImportPath, "collectors"):
				if under(imp, "node") {
					bad(p, imp, "node/ and collectors/ never import each other")
				}
			case under(p.ImportPath, "e2e"):
				if project && !under(imp, "mesh/wire") && !under(imp, "e2e") {
					bad(p, imp, "e2e/ sees the project only through its binaries and mesh/wire")
				}
			}
		}
	}
	require.Empty(t, problems, "layering broken (DESIGN.md section 5):\n%s", strings.Join(problems, "\n"))
}

// TestBinariesLinkOnlyTheirSide holds what each binary may link, all
// dependencies counted: a master is a master, a collector a collector.
func TestBinariesLinkOnlyTheirSide(t *testing.T) {
	rules := []struct {
		cmd    string
		banned []string
		why    string
	}{
		{"cmd/meshd", []string{module + "/collectors/", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "modernc.org/sqlite"},
			"meshd is a master and nothing else: no collector code, no SQL drivers (dev mode runs the real collectord)"},
		{"cmd/collectord", []string{module + "/node/"}, "a collector links no master code"},
		{"cmd/hubd", []string{module + "/collectors/"}, "the hub links no collector code"},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "./"+r.cmd).CombinedOutput()
		if strings.Contains(string(out), "matched no packages") || strings.Contains(string(out), "cannot find package") || strings.Contains(string(out), "directory not found") {
			t.Logf("%s does not exist yet", r.cmd)
			continue
		}
		require.NoError(t, err, "go list -deps ./%s: %s", r.cmd, out)
		var linked []string
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range r.banned {
				if strings.HasPrefix(dep, b) {
					linked = append(linked, dep)
				}
			}
		}
		require.Empty(t, linked, "%s: %s", r.cmd, r.why)
	}
}

// TestEveryPackageSaysWhatItIsFor fails on a hand-written package without a
// package doc comment. Generated packages (every file marked "Code
// generated") are left to their generator.
func TestEveryPackageSaysWhatItIsFor(t *testing.T) {
	var missing []string
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 || p.Doc != "" {
			continue
		}
		out, err := exec.Command("go", "list", "-f", `{{range .GoFiles}}{{$.Dir}}/{{.}} {{end}}`, p.ImportPath).Output()
		require.NoError(t, err)
		generated := true
		for _, f := range strings.Fields(string(out)) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			if !bytes.Contains(src[:min(len(src), 512)], []byte("Code generated")) {
				generated = false
			}
		}
		if !generated {
			missing = append(missing, p.rel())
		}
	}
	require.Empty(t, missing, "packages without a doc comment (// Package x ... before the package clause in one file)")
}
