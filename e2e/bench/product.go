package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/licmesh/licmesh/e2e/harness"
)

// productSpan is how far back the cases and logons of U2's database go.
const productSpan = 30 * 24 * time.Hour

// productDB is the demo product's database that U2's source reads, as
// `demoproduct create` sums it up.
type productDB struct {
	Path string `json:"-"`
	// Users rows in USERS, Active of them not CLOSED (what the users
	// scalar counts); Cases rows in APPLICATION; Logons rows in LOGIN_LOG.
	Users  int `json:"users"`
	Active int `json:"active"`
	Cases  int `json:"cases"`
	Logons int `json:"logons"`
}

// createProduct has the demoproduct binary create a database in dir with
// uc's sizes, its rows spread over productSpan, and write the sources file
// that meters it every uc.Interval, as `make run` does for its demo
// installations. It returns the database and the sources file's path.
func createProduct(ctx context.Context, dir string, uc UsageConfig) (productDB, string, error) {
	bin, err := harness.Binaries()
	if err != nil {
		return productDB{}, "", fmt.Errorf("%w: %w", ErrProduct, err)
	}
	demo := filepath.Join(bin, "demoproduct")
	db := productDB{Path: filepath.Join(dir, "processmaker.db")}
	out, err := runProduct(ctx, demo, "create", "--db", db.Path,
		"--users", strconv.Itoa(uc.DBUsers), "--cases", strconv.Itoa(uc.DBCases), "--logons", strconv.Itoa(uc.DBLogons),
		"--span", productSpan.String(), "--seed", "1")
	if err != nil {
		return productDB{}, "", err
	}
	if err := json.Unmarshal(out, &db); err != nil {
		return productDB{}, "", fmt.Errorf("%w: demoproduct create printed %q: %w", ErrProduct, out, err)
	}
	src, err := runProduct(ctx, demo, "sources", "--db", db.Path, "--interval", uc.Interval.String())
	if err != nil {
		return productDB{}, "", err
	}
	srcFile := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(srcFile, src, 0o600); err != nil {
		return productDB{}, "", fmt.Errorf("%w: %w", ErrProduct, err)
	}
	return db, srcFile, nil
}

// runProduct runs the demoproduct binary bin and returns what it printed.
func runProduct(ctx context.Context, bin string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: demoproduct %s: %w: %s", ErrProduct, args[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
