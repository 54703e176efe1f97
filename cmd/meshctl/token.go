package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func tokenColumns() []column[*v1.Token] {
	type t = *v1.Token
	return []column[t]{
		{"ID", func(r t) string { return r.GetId() }},
		{"ROLE", func(r t) string { return r.GetRole() }},
		{"CREATED", func(r t) string { return msTime(r.GetCreatedAtMs()) }},
		{"EXPIRES", func(r t) string { return msTime(r.GetExpiresAtMs()) }},
		{"USES", func(r t) string { return u32(r.GetUses()) }},
		{"MAX USES", func(r t) string { return maxUses(r.GetMaxUses()) }},
		{"USER", func(r t) string { return r.GetUser() }},
		{"REVOKED", func(r t) string { return yesNo(r.GetRevoked()) }},
	}
}

// createdTokenColumns describe a new token for CSV, the secret included:
// whoever asks for CSV is capturing it.
func createdTokenColumns() []column[*v1.CreateTokenResponse] {
	type c = *v1.CreateTokenResponse
	return []column[c]{
		{"ID", func(r c) string { return r.GetToken().GetId() }},
		{"ROLE", func(r c) string { return r.GetToken().GetRole() }},
		{"USER", func(r c) string { return r.GetToken().GetUser() }},
		{"EXPIRES", func(r c) string { return msTime(r.GetToken().GetExpiresAtMs()) }},
		{"MAX USES", func(r c) string { return maxUses(r.GetToken().GetMaxUses()) }},
		{"TOKEN", func(r c) string { return r.GetSecretToken() }},
	}
}

func maxUses(n uint32) string {
	if n == 0 {
		return "unlimited"
	}
	return u32(n)
}

func (a *app) tokenCommand() *cobra.Command {
	return group("token", "Create, list and revoke join tokens and API tokens",
		a.tokenCreateCommand(),
		a.tokenListCommand(),
		a.tokenRevokeCommand(),
	)
}

func (a *app) tokenCreateCommand() *cobra.Command {
	var (
		out        format
		role, user string
		ttl        = ttlValue(24 * time.Hour)
		uses       int64
	)
	cmd := &cobra.Command{
		Use:   "create [--role collector|ROLE] [--user NAME] [--ttl 24h] [--uses N]",
		Short: "Create a token; its text is printed once",
		Long: `Create a token. The token text is printed once, alone on stdout, so a script
can capture it:

    TOKEN=$(meshctl token create --ttl 1h --uses 1)

What the token is (ID, expiry) goes to stderr. With -o json the whole
response, the token text included, goes to stdout.

--role collector (the default) makes a join token for collectors. Any other
role (` + userRoles + `) makes an API token for a user: your own,
or with --user another's if you are an admin. It acts with the least of its
role and its user's, and stops when the user is disabled.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(role) == "" {
				return usagef("--role is empty")
			}
			if uses < 0 || uses > math.MaxUint32 {
				return usagef("--uses must be between 0 (unlimited) and %d, got %d", uint32(math.MaxUint32), uses)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.CreateToken, &v1.CreateTokenRequest{
				Role:       role,
				TtlSeconds: int64(time.Duration(ttl) / time.Second),
				MaxUses:    uint32(uses),
				User:       user,
			})
			if err != nil {
				return err
			}
			if out != formatTable {
				return printOne(a.stdout, out, res, createdTokenColumns(), res)
			}
			tok := res.GetToken()
			owner := ""
			if tok.GetUser() != "" {
				owner = " for " + tok.GetUser()
			}
			fmt.Fprintf(a.stderr, "created %s token %s%s, expires %s (in %s), %s uses; the token is shown once:\n",
				tok.GetRole(), tok.GetId(), owner, msTime(tok.GetExpiresAtMs()), humanDuration(time.Duration(ttl)), maxUses(tok.GetMaxUses()))
			_, err = fmt.Fprintln(a.stdout, res.GetSecretToken())
			return err
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&role, "role", "collector", "what the token lets its bearer do: collector (join the cluster), or "+userRoles)
	fs.StringVar(&user, "user", "", "the user an API token acts for (default: yours)")
	fs.Var(&ttl, "ttl", "how long the token stays valid, like 30m, 24h or 7d")
	fs.Int64Var(&uses, "uses", 0, "how many times the token can be used (0: unlimited)")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) tokenListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListTokens, &v1.ListTokensRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, tokenColumns(), res.GetTokens())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token so it can no longer be used",
		Args:  oneArg("token ID"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.RevokeToken, &v1.RevokeTokenRequest{Id: args[0]}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "revoked token %s\n", tableCell(args[0]))
			return err
		}),
	}
}

// ttlValue is a token lifetime flag: a Go duration, or whole days ("7d"),
// positive and in whole seconds since that is what the API carries.
type ttlValue time.Duration

func (v *ttlValue) String() string { return humanDuration(time.Duration(*v)) }

func (v *ttlValue) Type() string { return "duration" }

func (v *ttlValue) Set(s string) error {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return fmt.Errorf("want a duration like 30m, 24h or 7d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("want a duration like 30m, 24h or 7d")
		}
	}
	switch {
	case d < time.Second:
		return fmt.Errorf("must be at least 1s")
	case d%time.Second != 0:
		return fmt.Errorf("must be whole seconds")
	}
	*v = ttlValue(d)
	return nil
}
