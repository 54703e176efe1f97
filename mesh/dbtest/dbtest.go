//go:build linux

// Package dbtest gives tests real database servers: PostgreSQL and MariaDB
// started from the installed binaries (.ci/databases.sh installs them on
// Debian) the first time a test of the package needs them, each in a
// temporary directory on a free loopback port, and stopped by Stop, which
// the package's TestMain calls after m.Run. PostgreSQL refuses to run as
// root, so when the tests run as root both servers run as the unprivileged
// user "nobody" (set LICMESH_TEST_DB_USER to use another). Under CI (CI
// set) a missing server binary fails the tests that need it; elsewhere they
// skip, saying how to install it. LICMESH_TEST_PG_DSN and
// LICMESH_TEST_MYSQL_DSN point the tests at existing servers instead (an
// account that may create schemas, databases and roles).
//
// The collector's SQL sources and the hub's store are tested on the same
// servers this way: one kit, not one per package.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
)

// Password is the servers' password for the test account; tests check it
// never appears in an error.
const Password = "Pw-7f3c!secret"

// Server is one running server.
type Server struct {
	// DSN connects as an account that may do anything (with Password).
	DSN     string
	started time.Duration
	dir     string
	proc    *os.Process
	stopSig os.Signal     // SIGINT is PostgreSQL's fast shutdown
	exited  chan struct{} // closed when the reaper has waited for proc
}

// run starts cmd and a reaper goroutine that owns its Wait.
func run(cmd *exec.Cmd) (*os.Process, chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	return cmd.Process, exited, nil
}

type dbServers struct {
	base string // temporary directory holding every server's files

	pgOnce, myOnce sync.Once
	pg, my         *Server
	pgErr, myErr   error
	pgMissing      string // why PostgreSQL cannot be started, if it is not installed
	myMissing      string
}

var servers dbServers

// Stop stops the servers this process started; call it from TestMain
// after m.Run.
func Stop() { servers.stop() }

func (s *dbServers) stop() {
	for _, srv := range []*Server{s.pg, s.my} {
		if srv != nil && srv.proc != nil {
			srv.proc.Signal(srv.stopSig)
			select {
			case <-srv.exited:
			case <-time.After(15 * time.Second):
				srv.proc.Kill()
				<-srv.exited
			}
		}
	}
	if s.base != "" {
		os.RemoveAll(s.base)
	}
}

// unavailable skips or fails a test whose server is not installed.
func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := why + " (run .ci/databases.sh as root to install it)"
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", msg)
	}
	t.Skipf("SKIPPED, no real database: %s", msg)
}

// Postgres returns a running PostgreSQL whose DSN is a superuser's.
func Postgres(t testing.TB) *Server {
	t.Helper()
	servers.pgOnce.Do(func() {
		if dsn := os.Getenv("LICMESH_TEST_PG_DSN"); dsn != "" {
			servers.pg = &Server{DSN: dsn}
			return
		}
		servers.pg, servers.pgMissing, servers.pgErr = startPostgres()
	})
	if servers.pgMissing != "" {
		unavailable(t, servers.pgMissing)
	}
	require.NoError(t, servers.pgErr, "start postgres")
	t.Logf("postgres ready (started in %v)", servers.pg.started.Round(time.Millisecond))
	return servers.pg
}

// MariaDB returns a running MariaDB whose DSN has every privilege.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	servers.myOnce.Do(func() {
		if dsn := os.Getenv("LICMESH_TEST_MYSQL_DSN"); dsn != "" {
			servers.my = &Server{DSN: dsn}
			return
		}
		servers.my, servers.myMissing, servers.myErr = startMariaDB()
	})
	if servers.myMissing != "" {
		unavailable(t, servers.myMissing)
	}
	require.NoError(t, servers.myErr, "start mariadb")
	t.Logf("mariadb ready (started in %v)", servers.my.started.Round(time.Millisecond))
	return servers.my
}

// serverDir makes a directory the server's user owns.
func (s *dbServers) serverDir(name string, cred *syscall.Credential) (string, error) {
	if s.base == "" {
		base, err := os.MkdirTemp("", "licmesh-db-")
		if err != nil {
			return "", err
		}
		if err := os.Chmod(base, 0o755); err != nil { // let the server's user in
			return "", err
		}
		s.base = base
	}
	dir := filepath.Join(s.base, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// serverCredential is who the servers run as: nobody (or
// LICMESH_TEST_DB_USER) when the tests run as root, else the current user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := os.Getenv("LICMESH_TEST_DB_USER")
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, the servers need an unprivileged user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// command runs as the server's user, with a minimal environment.
func command(cred *syscall.Credential, dir, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "HOME=" + dir}
	// Pdeathsig takes the server down with a test binary that dies
	// without reaching TestMain's cleanup (a panic, a -timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// tail returns the end of a log file, for an error.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady pings dsn until it answers or 30 s pass.
func waitReady(driver, dsn string, exited <-chan struct{}) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the server exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a starting server; nothing to wait on
	}
}

// findPostgres returns the directory of initdb and postgres, newest version
// first.
func findPostgres() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && isExec(filepath.Join(filepath.Dir(real), "postgres")) {
			return filepath.Dir(real)
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func startPostgres() (srv *Server, missing string, err error) {
	bin := findPostgres()
	if bin == "" {
		return nil, "PostgreSQL is not installed (no initdb and postgres under /usr/lib/postgresql/*/bin)", nil
	}
	t0 := time.Now()
	cred, err := serverCredential()
	if err != nil {
		return nil, "", err
	}
	dir, err := servers.serverDir("pg", cred)
	if err != nil {
		return nil, "", err
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(Password+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	if cred != nil {
		os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	initdb := command(cred, dir, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwfile, "-N", "-E", "UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	cmd := command(cred, dir, filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "TimeZone=UTC", "-c", "max_connections=100", "-c", "logging_collector=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, exited, err := run(cmd)
	if err != nil {
		return nil, "", err
	}
	dsn := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", Password, port)
	srv = &Server{DSN: dsn, dir: dir, proc: proc, stopSig: syscall.SIGINT, exited: exited}
	if err := waitReady("pgx", dsn, exited); err != nil {
		proc.Kill()
		<-exited
		return nil, "", fmt.Errorf("postgres: %v; log: %s", err, tail(logf.Name()))
	}
	srv.started = time.Since(t0)
	return srv, "", nil
}

func findMariaDB() (server, install string) {
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/bin/mariadbd"} {
		if isExec(p) {
			server = p
			break
		}
	}
	for _, name := range []string{"mariadb-install-db", "mysql_install_db"} {
		if p, err := exec.LookPath(name); err == nil {
			install = p
			break
		}
	}
	return server, install
}

func startMariaDB() (srv *Server, missing string, err error) {
	server, install := findMariaDB()
	if server == "" || install == "" {
		return nil, "MariaDB is not installed (no mariadbd and mariadb-install-db)", nil
	}
	t0 := time.Now()
	cred, err := serverCredential()
	if err != nil {
		return nil, "", err
	}
	dir, err := servers.serverDir("mariadb", cred)
	if err != nil {
		return nil, "", err
	}
	data := filepath.Join(dir, "data")
	inst := command(cred, dir, install, "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve")
	if out, err := inst.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("%s: %v: %s", install, err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	errLog := filepath.Join(dir, "error.log")
	cmd := command(cred, dir, server, "--no-defaults", "--datadir="+data, "--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket="+filepath.Join(dir, "sock"), "--pid-file="+filepath.Join(dir, "pid"),
		"--tmpdir="+dir, "--log-error="+errLog, "--skip-name-resolve", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--default-time-zone=+00:00", "--innodb-flush-log-at-trx-commit=0", "--max-connections=30")
	proc, exited, err := run(cmd)
	if err != nil {
		return nil, "", err
	}
	fail := func(err error) (*Server, string, error) {
		proc.Kill()
		<-exited
		return nil, "", err
	}
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	if err := waitReady("mysql", root, exited); err != nil {
		return fail(fmt.Errorf("mariadb: %v; log: %s", err, tail(errLog)))
	}
	db, err := sql.Open("mysql", root)
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE USER 'licmesh'@'127.0.0.1' IDENTIFIED BY '" + Password + "'",
		"GRANT ALL ON *.* TO 'licmesh'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := db.Exec(q); err != nil {
			return fail(fmt.Errorf("mariadb setup: %w", err))
		}
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "licmesh", Password, "tcp", fmt.Sprintf("127.0.0.1:%d", port)
	return &Server{DSN: cfg.FormatDSN(), dir: dir, started: time.Since(t0), proc: proc, stopSig: syscall.SIGTERM, exited: exited}, "", nil
}

// StartPostgres starts a PostgreSQL server for a whole test run (see
// pgserve) and returns its DSN and how to stop it; missing says which
// binaries are absent, if any.
func StartPostgres() (dsn string, stop func(), missing string, err error) {
	srv, missing, err := startPostgres()
	if srv == nil {
		return "", nil, missing, err
	}
	servers.pg = srv
	return srv.DSN, servers.stop, "", nil
}

// StartMariaDB is StartPostgres for MariaDB: the server runs for a whole
// run (pgserve -mariadb) and its DSN's account may do anything.
func StartMariaDB() (dsn string, stop func(), missing string, err error) {
	srv, missing, err := startMariaDB()
	if srv == nil {
		return "", nil, missing, err
	}
	servers.my = srv
	return srv.DSN, servers.stop, "", nil
}

// PostgresDatabase creates a fresh, empty database on a running
// PostgreSQL for one test, dropped when the test ends, and returns a DSN
// for it.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	srv := Postgres(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	root, err := sql.Open("pgx", srv.DSN)
	require.NoError(t, err)
	defer root.Close()
	_, err = root.Exec("CREATE DATABASE " + name)
	require.NoError(t, err, "create database")
	t.Cleanup(func() {
		root, err := sql.Open("pgx", srv.DSN)
		if err != nil {
			return
		}
		defer root.Close()
		_, _ = root.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(srv.DSN)
	require.NoError(t, err, "the server's DSN is a URL")
	u.Path = "/" + name
	return u.String()
}
