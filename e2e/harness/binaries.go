package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var build struct {
	once  sync.Once
	dir   string
	err   error
	owned bool // dir is a temporary build of ours, not $LICMESH_BIN
}

// Binaries returns the directory holding meshd, collectord and meshctl:
// $LICMESH_BIN when set (make test builds there), else a fresh build of the
// module's commands into a temporary directory, made once per test binary.
func Binaries() (string, error) {
	build.once.Do(func() {
		if dir := os.Getenv("LICMESH_BIN"); dir != "" {
			for _, b := range []string{"meshd", "collectord", "meshctl", "demoproduct", "hubd"} {
				if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
					build.err = fmt.Errorf("harness: LICMESH_BIN=%s lacks %s (run make build)", dir, b)
					return
				}
			}
			build.dir = dir
			return
		}
		dir, err := os.MkdirTemp("", "licmesh-bin-")
		if err != nil {
			build.err = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		// Built as make build builds them: collectord without cgo (see the
		// Makefile), so the tests run the binaries users get. One thing
		// differs: collectord keeps every SQL driver here, as collectord-full
		// does, since the driver tags are the Makefile's to choose.
		for _, b := range []struct{ pkg, out, cgo string }{
			{"./cmd/meshd", "", ""}, {"./cmd/meshctl", "", ""}, {"./cmd/hubd", "", ""},
			{"./cmd/collectord", "", "CGO_ENABLED=0"}, {"./cmd/collectord", "collectord-full", "CGO_ENABLED=0"},
			{"./cmd/demoproduct", "", "CGO_ENABLED=0"},
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", dir+"/"+b.out, b.pkg)
			cmd.Dir = root
			if b.cgo != "" {
				cmd.Env = append(os.Environ(), b.cgo)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				build.err = fmt.Errorf("harness: go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
		build.dir, build.owned = dir, true
	})
	return build.dir, build.err
}

// RemoveBuilt removes the temporary build Binaries made, if it made one;
// a test binary's TestMain calls it once every test is done. $LICMESH_BIN
// is never touched.
func RemoveBuilt() {
	if build.owned {
		os.RemoveAll(build.dir)
	}
}
