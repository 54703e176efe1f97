package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// csrfHeader carries a signed-in session's CSRF token: every call made
// with the session cookie must send it.
const csrfHeader = "X-CSRF-Token"

// maxSecretBytes bounds a password read from a terminal or a pipe (the
// hub accepts 1024 characters at most).
const maxSecretBytes = 4096

func whoamiColumns() []column[*v1.WhoAmIResponse] {
	type w = *v1.WhoAmIResponse
	return []column[w]{
		{"ACCOUNT", func(r w) string { return r.GetAccountId() }},
		{"EMAIL", func(r w) string { return r.GetEmail() }},
		{"NAME", func(r w) string { return r.GetName() }},
		{"ROLE", func(r w) string { return r.GetRole() }},
		{"COMPANY", func(r w) string { return r.GetCompanyId() }},
		{"RESELLER", func(r w) string { return r.GetResellerId() }},
	}
}

func (h *hubApp) loginCommand() *cobra.Command {
	var (
		email, keyFile string
		printKey       bool
	)
	cmd := &cobra.Command{
		Use:   "login --email E [--key-file F] [--print]",
		Short: "Sign in with a password and keep an API key for the other hub commands",
		Long: `Sign in to the hub with an email and password, make an API key named
"meshctl@<this host>" and write it to a file (mode 0600) where the other hub
commands find it: --key-file, else --hub-key-file or LICMESH_HUB_KEY_FILE,
else ~/.config/licmesh/hub-key. The key itself is not printed; with --print
it goes to stdout instead of a file (to both with --key-file), for a script:

    KEY=$(meshctl hub login --email ci@vendor.example --print < password.txt)

The password is read from the terminal without echo or, when standard input
is not a terminal, as its first line. Signing in again makes a new key; the
old one stays valid until revoked (meshctl hub key list / revoke).`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(email) == "" {
				return usagef("--email is needed: the account's email")
			}
			if !cmd.Flags().Changed("key-file") {
				keyFile = h.cfg.KeyFile
				if keyFile == "" && !printKey {
					keyFile = h.cfg.defaultKeyFile
				}
			}
			if keyFile == "" && !printKey {
				return usagef("no place for the key: HOME is not set; give --key-file or --print")
			}
			if keyFile != "" {
				return checkKeyFilePath(keyFile)
			}
			return nil
		},
		RunE: h.action(func(ctx context.Context, _ []string) error {
			return h.login(ctx, email, keyFile, printKey)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&email, "email", "", "the account's email")
	fs.StringVar(&keyFile, "key-file", "", "write the API key here (default ~/.config/licmesh/hub-key)")
	fs.BoolVar(&printKey, "print", false, "print the API key on stdout (instead of writing it, unless --key-file is given)")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// checkKeyFilePath refuses, before any prompt or call, a key file that is
// there but not a regular file: the key would not land where it is sought.
func checkKeyFilePath(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usagef("--key-file: %v", err)
	case !fi.Mode().IsRegular():
		return usagef("--key-file %s exists and is not a regular file", path)
	}
	return nil
}

// login signs in, makes the key, signs out and keeps the key.
func (h *hubApp) login(ctx context.Context, email, keyFile string, printKey bool) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	hc, err := h.httpClient(jar)
	if err != nil {
		return err
	}
	password, err := h.readSecret(ctx, "Password for "+email+": ", "password")
	if err != nil {
		return err
	}
	plain := licmeshv1connect.NewHubServiceClient(hc, h.cfg.Addr)
	in, err := hubCall(ctx, h, plain.SignIn, &v1.SignInRequest{Email: email, Password: password})
	if err != nil {
		return err
	}
	session := licmeshv1connect.NewHubServiceClient(hc, h.cfg.Addr, connect.WithInterceptors(withHeader(csrfHeader, in.GetCsrfToken())))
	defer func() {
		// The session did its work; the key outlives it.
		_, _ = hubCall(context.WithoutCancel(ctx), h, session.SignOut, &v1.SignOutRequest{})
	}()
	me, err := hubCall(ctx, h, session.WhoAmI, &v1.WhoAmIRequest{})
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	made, err := hubCall(ctx, h, session.CreateAPIKey, &v1.CreateAPIKeyRequest{Name: "meshctl@" + host})
	if err != nil {
		return err
	}
	key := made.GetSecret()
	h.secrets = append(h.secrets, key)
	id := made.GetKey().GetId()
	if keyFile != "" {
		if err := writeSecretFile(keyFile, key+"\n"); err != nil {
			return fmt.Errorf("%w; the hub made API key %s, unused now: revoke it with meshctl hub key revoke %s", err, id, id)
		}
	}
	who := fmt.Sprintf("%s (%s)", tableCell(me.GetEmail()), tableCell(me.GetRole()))
	switch {
	case keyFile != "" && printKey:
		fmt.Fprintf(h.a.stderr, "signed in to %s as %s; API key %s written to %s and printed:\n", h.cfg.Addr, who, id, keyFile)
	case keyFile != "":
		fmt.Fprintf(h.a.stderr, "signed in to %s as %s; API key %s written to %s\n", h.cfg.Addr, who, id, keyFile)
	default:
		fmt.Fprintf(h.a.stderr, "signed in to %s as %s; API key %s, shown once:\n", h.cfg.Addr, who, id)
	}
	if printKey {
		_, err = fmt.Fprintln(h.a.stdout, key)
	}
	return err
}

// writeSecretFile replaces path with data, mode 0600, making its directory
// (0700) if needed. The file is written aside and renamed, so a reader
// never sees half a key.
func writeSecretFile(path, data string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("meshctl: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("meshctl: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("meshctl: writing %s: %w", path, err)
	}
	return nil
}

// readSecret reads a password for a hub command and keeps it to take out
// of any error printed.
func (h *hubApp) readSecret(ctx context.Context, prompt, what string) (string, error) {
	s, err := readSecret(ctx, h.a.stderr, prompt, what)
	if err == nil {
		h.secrets = append(h.secrets, s)
	}
	return s, err
}

// readSecret reads a password: from the terminal without echo, after
// prompt on stderr, or as the next line of standard input when that is not
// a terminal. what names it in errors.
func readSecret(ctx context.Context, stderr io.Writer, prompt, what string) (string, error) {
	in := os.Stdin
	var s string
	var err error
	if isTerminal(in) {
		fmt.Fprint(stderr, prompt)
		s, err = readHidden(ctx, in)
		fmt.Fprintln(stderr)
	} else {
		s, err = readLine(in)
		if errors.Is(err, io.EOF) {
			return "", usagef("no %s: standard input is not a terminal and has no more lines; pipe the %s in, one per line", what, what)
		}
	}
	if err != nil {
		if errors.Is(err, errCanceled) {
			return "", err
		}
		return "", fmt.Errorf("meshctl: reading the %s: %w", what, err)
	}
	if s == "" {
		return "", usagef("the %s is empty", what)
	}
	return s, nil
}

// readLine reads one line from r a byte at a time, so that nothing after
// it is consumed: the next secret may follow. It returns io.EOF only when
// r held nothing.
func readLine(r io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimSuffix(string(b), "\r"), nil
			}
			if len(b) >= maxSecretBytes {
				return "", fmt.Errorf("the line is longer than %d bytes", maxSecretBytes)
			}
			b = append(b, c[0])
		}
		switch {
		case errors.Is(err, io.EOF) && len(b) == 0:
			return "", io.EOF
		case errors.Is(err, io.EOF):
			return strings.TrimSuffix(string(b), "\r"), nil
		case err != nil:
			return "", err
		}
	}
}

// withHeader sets a header on every call.
func withHeader(k, v string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(k, v)
			return next(ctx, req)
		}
	}
}

func (h *hubApp) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the API key in use and delete its file",
		Long: `Revoke the hub API key meshctl is using and, when it came from a file (the
one meshctl hub login wrote, or --hub-key-file), delete the file.`,
		Args: noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			id := hubKeyID(h.key)
			_, err := hubCall(ctx, h, hub.RevokeAPIKey, &v1.RevokeAPIKeyRequest{Id: id})
			refused := errors.Is(err, errRefused)
			if err != nil && !refused {
				return err
			}
			if refused {
				fmt.Fprintf(h.a.stderr, "the hub no longer accepts API key %s\n", tableCell(id))
			} else {
				fmt.Fprintf(h.a.stderr, "revoked API key %s\n", tableCell(id))
			}
			file := h.cfg.KeyFile
			if h.cfg.Key == "" && file == "" {
				file = h.cfg.defaultKeyFile
			}
			if file == "" {
				return nil
			}
			if err := os.Remove(file); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			fmt.Fprintf(h.a.stderr, "deleted %s\n", file)
			return nil
		}),
	}
}

func (h *hubApp) passwordCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "password",
		Aliases: []string{"passwd"},
		Short:   "Change the password of the account the API key belongs to",
		Long: `Change the account's password. The current and the new password are read
from the terminal without echo (the new one twice) or, when standard input
is not a terminal, as its first two lines. The hub takes 12 to 1024
characters.`,
		Args: noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			old, err := h.readSecret(ctx, "Current password: ", "current password")
			if err != nil {
				return err
			}
			pw, err := h.readSecret(ctx, "New password: ", "new password")
			if err != nil {
				return err
			}
			if isTerminal(os.Stdin) {
				again, err := h.readSecret(ctx, "New password again: ", "new password")
				if err != nil {
					return err
				}
				if again != pw {
					return usagef("the new passwords differ; nothing changed")
				}
			}
			if _, err := hubCall(ctx, h, hub.ChangePassword, &v1.ChangePasswordRequest{OldPassword: old, NewPassword: pw}); err != nil {
				return err
			}
			fmt.Fprintln(h.a.stderr, "password changed; API keys stay valid")
			return nil
		}),
	}
}

func (h *hubApp) whoamiCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the account the API key belongs to",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.WhoAmI, &v1.WhoAmIRequest{})
			if err != nil {
				return err
			}
			return printOne(h.a.stdout, out, res, whoamiColumns(), res)
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
